"""`tollgate group ...`: list customer groups and set their per-user rate limits."""

from __future__ import annotations

from typing import Any

import click

from shared import accounts
from shared.group_admin import groups_query, save_group
from shared.models import Group

from .runtime import emit, json_option, opened_database, table

UNLIMITED = ("none", "off", "unlimited")


def rate_limit(option: str, text: str | None, current: int | None) -> int | None:
    """An --rpm/--tpm value: a whole number, or "none" for unlimited; not given keeps `current`."""
    if text is None:
        return current
    if text.strip().lower() in UNLIMITED:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise click.ClickException(f"{option}: must be a whole number from 1, or none") from exc


def limit_options(scope: str) -> Any:
    """--rpm and --tpm options (values parsed by `rate_limit`)."""

    def decorate(command: Any) -> Any:
        for name, what in (("tpm", "tokens"), ("rpm", "requests")):
            command = click.option(
                f"--{name}",
                metavar="N|none",
                help=f"{what.capitalize()} per minute {scope} (none: unlimited).",
            )(command)
        return command

    return decorate


def group_row(group: Group, members: int | None = None) -> dict[str, Any]:
    """What the CLI shows of a group."""
    return {
        "id": group.id,
        "name": group.name,
        "multiplier_ppm": group.multiplier_ppm,
        "models": group.allowed_models,
        "rpm_limit": group.rpm_limit,
        "tpm_limit": group.tpm_limit,
        "members": members,
    }


@click.group()
def group() -> None:
    """Customer groups."""


@group.command("list")
@json_option
def list_groups(as_json: bool) -> None:
    """List groups with their members, multipliers and per-user rate limits."""
    with opened_database():
        rows = [group_row(g, g.members) for g in groups_query()]
    emit(rows, as_json, lambda r: table(r, ["id", "name", "members", "rpm_limit", "tpm_limit"], "no groups"))


@group.command("set")
@click.argument("name")
@limit_options("for each member user, all its keys together")
@json_option
def set_group(name: str, rpm: str | None, tpm: str | None, as_json: bool) -> None:
    """Set a group's per-user rate limits (the data planes apply them within seconds)."""
    with opened_database():
        found = accounts.get_group(name)
        saved = save_group(
            found,
            found.name,
            found.multiplier_ppm,
            found.allowed_models,
            rpm_limit=rate_limit("--rpm", rpm, found.rpm_limit),
            tpm_limit=rate_limit("--tpm", tpm, found.tpm_limit),
        )
        row = group_row(saved)
    emit(
        row,
        as_json,
        lambda r: (
            f"group {r['name']}: rpm {r['rpm_limit'] or 'unlimited'}, tpm {r['tpm_limit'] or 'unlimited'}"
        ),
    )
