"""`tollgate usage list`: settled requests, newest first, with charge and upstream cost."""

from __future__ import annotations

import datetime as dt

from shared import accounts, billing
from shared.models import utcnow
from tests.cli.conftest import Cli, snapshot


def _settle(request_id: str, email: str, charge: int, minutes_ago: int, **extra: object) -> None:
    user = accounts.get_user(email)
    billing.post_entry(user.id, 10**10, "deposit", f"dep:{request_id}")
    billing.settle(
        [
            billing.Settlement(
                request_id=request_id,
                user_id=user.id,
                hold_id=None,
                api_key_id=None,
                model="m-1",
                charge=charge,
                created_at=utcnow() - dt.timedelta(minutes=minutes_ago),
                **extra,
            )
        ]
    )


def test_usage_is_listed_newest_first_with_exact_amounts(cli: Cli) -> None:
    accounts.create_user("alice@example.com")
    accounts.create_user("bob@example.com")
    _settle(
        "req-old",
        "alice@example.com",
        1_500,
        30,
        provider="cheap",
        cost=1_000,
        prompt_tokens=10,
        completion_tokens=5,
    )
    _settle(
        "req-new",
        "alice@example.com",
        78_000,
        1,
        provider="fast",
        cost=50_000,
        stream=True,
        prompt_tokens=100,
        completion_tokens=120,
        status="partial",
    )
    _settle("req-bob", "bob@example.com", 2, 10)
    listed = cli.json("usage", "list")
    assert [u["request_id"] for u in listed] == ["req-new", "req-bob", "req-old"]
    newest = listed[0]
    assert newest == {
        "request_id": "req-new",
        "email": "alice@example.com",
        "model": "m-1",
        "provider": "fast",
        "prompt_tokens": 100,
        "cached_tokens": 0,
        "completion_tokens": 120,
        "meters": [],
        "cost_usd": "0.000078000",
        "upstream_cost_usd": "0.000050000",
        "held_usd": "0.000000000",
        "shortfall_usd": "0.000000000",
        "hold_lost": False,
        "status": "partial",
        "stream": True,
        "error": "",
        "created_at": newest["created_at"],
    }
    assert [u["request_id"] for u in cli.json("usage", "list", "--email", "alice@example.com")] == [
        "req-new",
        "req-old",
    ]
    assert [u["request_id"] for u in cli.json("usage", "list", "--limit", "1")] == ["req-new"]
    assert "req-bob" in cli.ok("usage", "list")


def test_unknown_email_is_refused(cli: Cli) -> None:
    before = snapshot()
    assert "no user nobody@example.com" in cli.fails("usage", "list", "--email", "nobody@example.com")
    assert snapshot() == before


def test_no_usage_yet(cli: Cli) -> None:
    assert cli.json("usage", "list") == []
    assert "no usage" in cli.ok("usage", "list")


def test_unsettled_and_short_requests_are_listed_on_their_own(cli: Cli) -> None:
    cli.ok("user", "create", "alice@example.com")
    _settle("req-fine", "alice@example.com", 1_000, 3)
    _settle("req-cut", "alice@example.com", 0, 2, status="unsettled", error="the data-plane process stopped")
    listed = cli.json("usage", "list", "--status", "unsettled")
    assert [(u["request_id"], u["status"]) for u in listed] == [("req-cut", "unsettled")]
    assert "stopped" in listed[0]["error"]
    assert "req-cut" in cli.ok("usage", "list", "--status", "unsettled")
    assert cli.json("usage", "list", "--shortfall") == []


def test_every_meter_billed_is_listed_with_its_unit(cli: Cli) -> None:
    accounts.create_user("alice@example.com")
    meters = {
        "audio_second": [3_500, 100_000],
        "input": [12, 2_000_000_000],
        "image:1024x1024:hd": [2, 80_000_000],
    }
    _settle("req-media", "alice@example.com", 160_350_024, 1, meters=meters)

    [row] = cli.json("usage", "list")

    assert row["meters"] == [
        {"meter": "input", "label": "Input tokens", "quantity": 12, "counted": "tokens",
         "unit_price_usd": "2.000000000", "per": "1M tokens"},
        {"meter": "image:1024x1024:hd", "label": "Images (1024x1024, hd)", "quantity": 2, "counted": "images",
         "unit_price_usd": "0.080000000", "per": "image"},
        {"meter": "audio_second", "label": "Audio seconds", "quantity": 3_500, "counted": "ms",
         "unit_price_usd": "0.000100000", "per": "second"},
    ]  # fmt: skip
