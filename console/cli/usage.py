"""`tollgate usage list`: what requests used and what they cost, newest first."""

from __future__ import annotations

from typing import Any

import click

from shared import accounts
from shared.models import UsageRecord, User
from shared.price_sheet import meter_uses

from .runtime import emit, iso, json_option, opened_database, table, usd


def usage_row(record: UsageRecord) -> dict[str, Any]:
    """One request's usage: tokens, every meter billed, the customer's charge and the upstream's cost."""
    return {
        "request_id": record.request_id,
        "email": record.user.email,
        "model": record.model,
        "provider": record.provider,
        "prompt_tokens": record.prompt_tokens,
        "cached_tokens": record.cached_tokens,
        "completion_tokens": record.completion_tokens,
        "meters": [use.as_json() for use in meter_uses(record.meters)],
        "cost_usd": usd(record.charge),
        "upstream_cost_usd": usd(record.cost),
        "held_usd": usd(record.held),
        "shortfall_usd": usd(record.shortfall),
        "hold_lost": record.hold_lost,
        "status": record.status,
        "stream": record.stream,
        "error": record.error,
        "created_at": iso(record.created_at),
    }


STATUSES = ("ok", "partial", "error", "unsettled")


@click.group()
def usage() -> None:
    """Metered requests."""


@usage.command("list")
@click.option("--email", help="Only this user's requests.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only requests that ended so (`unsettled`: cut by a data plane that died).",
)
@click.option(
    "--shortfall", is_flag=True, help="Only requests whose charge the balance could not cover in full."
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def list_usage(email: str | None, status: str | None, shortfall: bool, limit: int, as_json: bool) -> None:
    """List usage records, newest first."""
    with opened_database():
        query = (
            UsageRecord.select(UsageRecord, User)
            .join(User)
            .order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
            .limit(limit)
        )
        if email is not None:
            query = query.where(UsageRecord.user == accounts.get_user(email).id)
        if status is not None:
            query = query.where(UsageRecord.status == status)
        if shortfall:
            query = query.where(UsageRecord.shortfall > 0)
        rows = [usage_row(r) for r in query]
    columns = ["created_at", "request_id", "email", "model", "prompt_tokens", "completion_tokens", "cost_usd"]
    if status == "unsettled" or shortfall:
        columns += ["held_usd", "shortfall_usd"]
    emit(rows, as_json, lambda r: table(r, columns, "no usage"))
