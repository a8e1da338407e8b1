"""`tollgate welcome`: where the console and the API are, and how to log in."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from shared import migrations
from shared.models import User
from shared.settings import Settings
from shared.setup_token import ensure_setup_token

from .runtime import opened_database


def console_url(settings: Settings) -> str:
    """The console's address as a browser would open it."""
    return f"http://{settings.console_host}:{settings.console_port}/"


def cli_command() -> str:
    """How to call this CLI from the shell it runs in: `tollgate` when on PATH, else its path."""
    if shutil.which("tollgate"):
        return "tollgate"
    script = Path(sys.executable).parent / "tollgate"
    return os.path.relpath(script) if script.is_relative_to(Path.cwd()) else str(script)


def login_hint(settings: Settings) -> list[str]:
    """Who can log in as an operator, or how to create the first operator."""
    if migrations.pending():
        return [f"The database is not migrated yet: run `{cli_command()} db upgrade` first."]
    operators = [u.email for u in User.select(User.email).where(User.role == "operator").order_by(User.id)]
    if operators:
        return [f"Log in to the console as an operator: {', '.join(operators)}"]
    # The same token the console prints at start (kept in var/), so either place works.
    token = ensure_setup_token(settings.var_dir)
    return [
        "No operator exists yet. Create one, then log in to the console with it:",
        f"  {cli_command()} user create you@example.com --operator --password 'a long password'",
        f"or open {console_url(settings)}setup in a browser and enter this one-time token: {token}",
    ]


@click.command("welcome")
def welcome() -> None:
    """Print the console URL, the API base URL and how to log in."""
    with opened_database() as settings:
        hint = login_hint(settings)
    lines = [
        "Tollgate",
        f"  Console:       {console_url(settings)}",
        f"  API base URL:  {settings.public_base_url}/v1   (OpenAI SDKs: base_url)",
        f"  Anthropic SDK: {settings.public_base_url}   (base_url without /v1)",
        f"  Gemini SDK:    {settings.public_base_url}   (http_options base_url; /v1beta/models/...)",
        f"  Status:        {settings.public_base_url}/api/status",
        "",
        *hint,
    ]
    click.echo("\n".join(lines))
