"""What every CLI command shares: opening the database, printing text or JSON, and mapping errors.

Domain errors become one-line `Error: ...` messages with exit status 1; amounts in JSON are
decimal strings in USD with 9 decimals, never floats.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from peewee import DatabaseError

from shared.billing import InsufficientBalance
from shared.db import init_db
from shared.errors import InvalidInput, NotFound
from shared.money import AmountError, format_usd, parse_usd
from shared.settings import Settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


@contextmanager
def opened_database() -> Iterator[Settings]:
    """Read the settings, bind the database, and close every connection afterwards."""
    settings = Settings.from_env()
    settings.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = init_db(settings.database_url)
    try:
        with database.connection_context(), domain_errors():
            yield settings
    finally:
        if hasattr(database, "close_all"):
            database.close_all()


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the errors the shared services raise into one-line CLI errors."""
    try:
        yield
    except InvalidInput as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from exc
    except NotFound as exc:
        raise click.ClickException(f"no {exc.what} {exc.name}") from exc
    except (AmountError, InsufficientBalance) as exc:
        raise click.ClickException(str(exc)) from exc
    except DatabaseError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(
            f"database error ({first_line}); is the database reachable and migrated (tollgate db upgrade)?"
        ) from exc


def amount(option: str, text: str | None) -> int | None:
    """Parse a USD amount given for `option` into nano-USD, or fail with a one-line message."""
    if text is None:
        return None
    try:
        return parse_usd(text)
    except AmountError as exc:
        raise click.ClickException(f"{option}: {exc}") from exc


def usd(nano: int | None) -> str | None:
    """nano-USD as a USD decimal string with 9 places (None stays None)."""
    return None if nano is None else format_usd(nano)


def iso(when: dt.datetime | None) -> str | None:
    """A naive-UTC timestamp as ISO 8601 with a Z (None stays None)."""
    return None if when is None else when.replace(microsecond=0).isoformat() + "Z"


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """Print `data` as JSON, or as the human text `text(data)` renders."""
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(text(data))


def table(rows: list[dict[str, Any]], columns: list[str], empty: str) -> str:
    """Render rows as aligned plain-text columns (or `empty` when there are none)."""
    if not rows:
        return empty
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
