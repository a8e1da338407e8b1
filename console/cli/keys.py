"""`tollgate key ...`: create, limit, revoke and list customers' API keys (secrets are shown once)."""

from __future__ import annotations

from typing import Any

import click

from shared import accounts, catalog
from shared.config_version import bump_config_version
from shared.key_admin import set_key_limits
from shared.models import ApiKey, User, utcnow
from shared.platforms import DEFAULT_PLATFORM, PLATFORMS, offered_on

from .groups import limit_options, rate_limit
from .runtime import emit, iso, json_option, opened_database, table, usd


def key_state(key: ApiKey) -> str:
    """active, revoked or expired."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= utcnow():
        return "expired"
    return "active"


def key_row(key: ApiKey, email: str) -> dict[str, Any]:
    """What the CLI shows of a key: never its secret."""
    return {
        "id": key.id,
        "email": email,
        "name": key.name,
        "prefix": key.prefix,
        "models": key.allowed_models,
        "platform": key.platform,
        "state": key_state(key),
        "spent_usd": usd(key.spent),
        "spend_cap_usd": usd(key.spend_cap),
        "rpm_limit": key.rpm_limit,
        "tpm_limit": key.tpm_limit,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }


@click.group()
def key() -> None:
    """Customers' API keys."""


@key.command("create")
@click.argument("email")
@click.option("--name", default="", help="A label for the key.")
@click.option("--models", help="Comma-separated model ids the key may call (default: all the group may).")
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default=DEFAULT_PLATFORM,
    show_default=True,
    help="The regional catalogue the key sees and calls (fixed once created).",
)
@limit_options("for this key")
@json_option
def create(
    email: str,
    name: str,
    models: str | None,
    platform: str,
    rpm: str | None,
    tpm: str | None,
    as_json: bool,
) -> None:
    """Create an API key for a user and print its secret (shown this once)."""
    with opened_database() as settings:
        owner = accounts.get_user(email)
        allowed = accounts.parse_model_list(models)
        for slug in allowed or []:
            # A typo, or a model of another platform, would make a key that can call nothing.
            if platform not in offered_on(catalog.get_model(slug).platforms):
                raise click.ClickException(f"--models: {slug} is not offered on the {platform} platform")
        created, secret = accounts.create_key(
            owner,
            name=name,
            models=allowed,
            prefix=settings.key_prefix,
            rpm_limit=rate_limit("--rpm", rpm, None),
            tpm_limit=rate_limit("--tpm", tpm, None),
            platform=platform,
        )
        bump_config_version()
        row = {"key": secret, **key_row(ApiKey.get_by_id(created.id), owner.email)}
    emit(
        row, as_json, lambda r: f"key {r['id']} for {r['email']}: {r['key']}\n(the secret is shown only now)"
    )


@key.command("limit")
@click.argument("key_id", type=int)
@limit_options("for this key")
@json_option
def limit(key_id: int, rpm: str | None, tpm: str | None, as_json: bool) -> None:
    """Change a key's rate limits (an option not given keeps its value); effective within seconds."""
    with opened_database():
        found = accounts.owned_key(key_id, None)
        changed = set_key_limits(
            found, rate_limit("--rpm", rpm, found.rpm_limit), rate_limit("--tpm", tpm, found.tpm_limit)
        )
        row = key_row(changed, found.user.email)
    emit(
        row,
        as_json,
        lambda r: f"key {r['id']}: rpm {r['rpm_limit'] or 'unlimited'}, tpm {r['tpm_limit'] or 'unlimited'}",
    )


@key.command("revoke")
@click.argument("key_id", type=int)
@json_option
def revoke(key_id: int, as_json: bool) -> None:
    """Revoke a key by its id; the data plane refuses it within seconds."""
    with opened_database():
        revoked = accounts.revoke_key(key_id)
        row = key_row(ApiKey.get_by_id(revoked.id), revoked.user.email)
    emit(row, as_json, lambda r: f"revoked key {r['id']} ({r['prefix']}) of {r['email']}")


@key.command("list")
@click.argument("email", required=False)
@json_option
def list_keys(email: str | None, as_json: bool) -> None:
    """List keys (of one user when EMAIL is given); secrets are never shown."""
    with opened_database():
        query = ApiKey.select(ApiKey, User).join(User).order_by(ApiKey.id)
        if email is not None:
            query = query.where(ApiKey.user == accounts.get_user(email).id)
        rows = [key_row(k, k.user.email) for k in query]
    columns = ["id", "email", "name", "prefix", "platform", "state", "spent_usd"]
    emit(rows, as_json, lambda r: table(r, columns, "no keys"))
