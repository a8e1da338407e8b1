"""`tollgate user reset-password EMAIL` prints a one-time link; only its hash is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from shared.accounts import create_user
from shared.models import utcnow
from shared.password_resets import PasswordReset, usable_reset
from tests.cli.conftest import Cli

LINK_RE = re.compile(r"^https://console\.example/reset/([A-Za-z0-9_-]{40,})$")


def test_the_link_uses_the_public_url_and_only_its_hash_is_stored(cli: Cli) -> None:
    user = create_user("alice@example.com", "a long password")
    cli.env["TOLLGATE_CONSOLE_PUBLIC_URL"] = "https://console.example/"
    result = cli.run("user", "reset-password", "Alice@Example.com")
    assert result.exit_code == 0 and result.stderr == ""
    token = LINK_RE.match(result.stdout.strip()).group(1)
    stored = PasswordReset.get(PasswordReset.user == user.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert dt.timedelta(minutes=59) < stored.expires_at - utcnow() <= dt.timedelta(hours=1)
    assert usable_reset(token) is not None


def test_without_a_public_url_it_prints_a_path_and_says_so(cli: Cli) -> None:
    create_user("bob@example.com")
    result = cli.run("user", "reset-password", "bob@example.com")
    assert result.exit_code == 0
    assert re.fullmatch(r"/reset/[A-Za-z0-9_-]{40,}\n", result.stdout)
    assert "TOLLGATE_CONSOLE_PUBLIC_URL is not set" in result.stderr


def test_json_output(cli: Cli) -> None:
    create_user("carol@example.com")
    cli.env["TOLLGATE_CONSOLE_PUBLIC_URL"] = "https://console.example"
    out = cli.json("user", "reset-password", "carol@example.com")
    assert out["email"] == "carol@example.com" and LINK_RE.match(out["link"])
    assert out["expires_at"].endswith("Z")


def test_an_unknown_user_is_an_error(cli: Cli) -> None:
    assert cli.fails("user", "reset-password", "nobody@example.com") == "Error: no user nobody@example.com"
    assert not PasswordReset.select().exists()
