"""`tollgate user ...`: creating users, listing them, and crediting or debiting balances exactly."""

from __future__ import annotations

import pytest

from shared.models import LedgerEntry, User
from shared.passwords import verify_password
from tests.cli.conftest import Cli, snapshot


def test_create_prints_the_user_and_stores_a_hashed_password(cli: Cli) -> None:
    created = cli.json("user", "create", "Boss@Example.com", "--operator", "--password", "a long password")
    assert created == {
        "id": created["id"],
        "email": "boss@example.com",
        "role": "operator",
        "group": "default",
        "status": "active",
        "balance_usd": "0.000000000",
        "held_usd": "0.000000000",
        "available_usd": "0.000000000",
        "created_at": created["created_at"],
    }
    stored = User.get(User.email == "boss@example.com")
    assert stored.password_hash != "a long password"
    assert verify_password(stored.password_hash, "a long password")


def test_list_shows_role_group_status_and_balance(cli: Cli) -> None:
    cli.ok("user", "create", "op@example.com", "--operator", "--password", "a long password")
    cli.ok("user", "create", "alice@example.com")
    cli.ok("user", "credit", "alice@example.com", "5", "--reason", "welcome credit")
    listed = cli.json("user", "list")
    assert [(u["email"], u["role"], u["group"], u["status"], u["balance_usd"]) for u in listed] == [
        ("op@example.com", "operator", "default", "active", "0.000000000"),
        ("alice@example.com", "customer", "default", "active", "5.000000000"),
    ]
    text = cli.ok("user", "list")
    assert "alice@example.com" in text and "5.000000000" in text


def test_credit_and_debit_are_exact_ledger_entries_with_the_reason(cli: Cli) -> None:
    cli.ok("user", "create", "alice@example.com")
    credited = cli.json("user", "credit", "alice@example.com", "4.999922", "--reason", "promo")
    assert credited["amount_usd"] == "4.999922000"
    assert credited["balance_usd"] == "4.999922000"
    debited = cli.json("user", "credit", "alice@example.com", "-0.000000001", "--reason", "rounding")
    assert debited["balance_usd"] == "4.999921999"
    entries = [(e.kind, e.amount, e.reason) for e in LedgerEntry.select().order_by(LedgerEntry.id)]
    assert entries == [("adjustment", 4_999_922_000, "promo"), ("adjustment", -1, "rounding")]
    assert User.get(User.email == "alice@example.com").balance == 4_999_921_999


def test_debit_below_zero_is_refused_with_the_balance_in_the_message(cli: Cli) -> None:
    cli.ok("user", "create", "alice@example.com")
    cli.ok("user", "credit", "alice@example.com", "2", "--reason", "credit")
    before = snapshot()
    message = cli.fails("user", "credit", "alice@example.com", "-2.5", "--reason", "refund")
    assert "2.000000000" in message and "2.500000000" in message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["user", "credit", "nobody@example.com", "5", "--reason", "x"], "no user nobody@example.com"),
        (["user", "credit", "alice@example.com", "1.0000000001", "--reason", "x"], "more than 9 decimals"),
        (["user", "credit", "alice@example.com", "five", "--reason", "x"], "not an amount"),
        (["user", "credit", "alice@example.com", "0", "--reason", "x"], "zero"),
        (["user", "credit", "alice@example.com", "5", "--reason", "  "], "--reason"),
        (["user", "create", "alice@example.com"], "already registered"),
        (["user", "create", "not-an-email"], "email"),
        (["user", "create", "bob@example.com", "--password", "short"], "password"),
        (["user", "create", "bob@example.com", "--group", "vip"], "no group vip"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(cli: Cli, args: list[str], expected: str) -> None:
    cli.ok("user", "create", "alice@example.com")
    before = snapshot()
    assert expected in cli.fails(*args)
    assert snapshot() == before
