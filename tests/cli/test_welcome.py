"""`tollgate welcome` tells the operator where everything is and how to log in."""

from __future__ import annotations

from pathlib import Path

from shared import setup_token
from tests.cli.conftest import Cli


def test_welcome_prints_the_urls_and_how_to_make_the_first_operator(cli: Cli) -> None:
    cli.env.update(TOLLGATE_CONSOLE_PORT="9101", TOLLGATE_PUBLIC_BASE_URL="https://api.gateway.test/")
    text = cli.ok("welcome")
    assert "http://127.0.0.1:9101/" in text
    assert "https://api.gateway.test/v1" in text
    assert "tollgate user create you@example.com --operator --password" in text
    token = text.split("one-time token: ")[1].split()[0]
    assert token in cli.ok("welcome"), "the token stays the same until it is used"
    var_dir = Path(cli.env["TOLLGATE_VAR_DIR"])
    boss = setup_token.create_first_operator(token, "boss@example.com", "a long password", var_dir)
    assert boss.role == "operator"


def test_welcome_names_the_operators_once_there_are_some(cli: Cli) -> None:
    cli.ok("user", "create", "boss@example.com", "--operator", "--password", "a long password")
    cli.ok("user", "create", "alice@example.com")
    text = cli.ok("welcome")
    assert "boss@example.com" in text and "alice@example.com" not in text
    assert "--operator" not in text
