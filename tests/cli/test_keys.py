"""`tollgate key ...`: a key's secret is shown once, stored only as a hash, and revocable."""

from __future__ import annotations

import pytest

from shared.config_version import read_config_version
from shared.keys import hash_key
from shared.models import ApiKey
from tests.cli.conftest import Cli, snapshot


@pytest.fixture
def alice(cli: Cli) -> str:
    cli.ok("user", "create", "alice@example.com")
    cli.ok("provider", "add", "up", "--base-url", "http://127.0.0.1:9/v1")
    cli.ok("model", "add", "m-1", "--provider", "up", "--input-price", "1", "--output-price", "2")
    return "alice@example.com"


def test_create_shows_the_secret_once_and_stores_its_hash(cli: Cli, alice: str) -> None:
    created = cli.json("key", "create", alice, "--name", "laptop", "--models", "m-1")
    secret = created["key"]
    assert secret.startswith("sk-tg-") and len(secret) > 40
    assert created["name"] == "laptop"
    assert created["models"] == ["m-1"]
    assert created["email"] == alice
    assert created["state"] == "active"
    assert secret.startswith(created["prefix"].rstrip("…"))
    stored = ApiKey.get_by_id(created["id"])
    assert stored.key_hash == hash_key(secret)
    assert secret not in repr(snapshot())


def test_list_never_shows_secrets(cli: Cli, alice: str) -> None:
    secret = cli.json("key", "create", alice, "--name", "laptop")["key"]
    cli.ok("user", "create", "bob@example.com")
    cli.ok("key", "create", "bob@example.com", "--name", "ci")
    listed = cli.json("key", "list")
    assert [(k["email"], k["name"], k["state"], k["spent_usd"]) for k in listed] == [
        (alice, "laptop", "active", "0.000000000"),
        ("bob@example.com", "ci", "active", "0.000000000"),
    ]
    assert secret not in repr(listed) and "key" not in listed[0]
    assert secret not in cli.ok("key", "list")
    assert [k["name"] for k in cli.json("key", "list", "bob@example.com")] == ["ci"]


def test_revoke_marks_the_key_and_tells_the_data_planes(cli: Cli, alice: str) -> None:
    key_id = cli.json("key", "create", alice)["id"]
    version = read_config_version()
    assert "revoked key" in cli.ok("key", "revoke", str(key_id))
    assert ApiKey.get_by_id(key_id).revoked_at is not None
    assert read_config_version() > version
    assert cli.json("key", "list", alice)[0]["state"] == "revoked"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["key", "create", "nobody@example.com"], "no user nobody@example.com"),
        (["key", "create", "alice@example.com", "--models", "m-1,no-such-model"], "no model no-such-model"),
        (["key", "create", "alice@example.com", "--name", "x" * 101], "name"),
        (["key", "revoke", "999"], "no key 999"),
        (["key", "list", "nobody@example.com"], "no user nobody@example.com"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    cli: Cli, alice: str, args: list[str], expected: str
) -> None:
    before = snapshot()
    assert expected in cli.fails(*args)
    assert snapshot() == before
