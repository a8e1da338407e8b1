"""`tollgate provider ...`: provider keys are stored encrypted and shown masked."""

from __future__ import annotations

import pytest

from shared.models import Provider
from tests.cli.conftest import Cli, snapshot

UPSTREAM_KEY = "sk-upstream-0123456789abcdef"


def test_add_and_list_mask_the_key_and_store_it_encrypted(cli: Cli) -> None:
    added = cli.json(
        "provider",
        "add",
        "primary",
        "--base-url",
        "https://upstream.example/v1/",
        "--api-key",
        UPSTREAM_KEY,
        "--kind",
        "anthropic",
        "--timeout",
        "12.5",
    )
    assert added == {
        "id": added["id"],
        "name": "primary",
        "kind": "anthropic",
        "base_url": "https://upstream.example/v1",
        "api_key": "…cdef",
        "timeout_s": 12.5,
        "enabled": True,
        "created_at": added["created_at"],
    }
    cli.ok("provider", "add", "backup", "--base-url", "http://127.0.0.1:9/v1")
    listed = cli.json("provider", "list")
    assert [(p["name"], p["kind"], p["api_key"]) for p in listed] == [
        ("backup", "openai", ""),
        ("primary", "anthropic", "…cdef"),
    ]
    assert UPSTREAM_KEY not in cli.ok("provider", "list")
    assert UPSTREAM_KEY not in repr(snapshot())
    assert Provider.get(Provider.name == "primary").api_key_encrypted != ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["provider", "add", "primary", "--base-url", "http://other.example/v1"], "already exists"),
        (["provider", "add", "second", "--base-url", "not a url"], "base_url"),
        (["provider", "add", "second", "--base-url", "ftp://files.example/"], "base_url"),
        (["provider", "add", "bad name", "--base-url", "http://x.example/v1"], "name"),
        (["provider", "add", "second", "--base-url", "http://x.example/v1", "--timeout", "0"], "timeout"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(cli: Cli, args: list[str], expected: str) -> None:
    cli.ok("provider", "add", "primary", "--base-url", "http://127.0.0.1:9/v1", "--api-key", UPSTREAM_KEY)
    before = snapshot()
    assert expected in cli.fails(*args)
    assert snapshot() == before


def test_an_unknown_kind_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("provider", "add", "p", "--base-url", "http://x.example/v1", "--kind", "palm")
    assert result.exit_code == 2
    assert "palm" in result.stderr
    assert Provider.select().count() == 0
