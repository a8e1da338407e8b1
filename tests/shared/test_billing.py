"""Holds, ledger entries and settlement keep balances exact and charge each request once."""

from __future__ import annotations

import threading

import pytest

from shared import accounts, billing
from shared.db import binary_chunks
from shared.models import Hold, LedgerEntry, UsageRecord, User


def _user(balance: int) -> User:
    user = accounts.create_user("buyer@example.com")
    if balance:
        billing.post_entry(user.id, balance, "deposit", "dep:1")
    return User.get_by_id(user.id)


def _balance(user: User) -> int:
    return User.get_by_id(user.id).balance


def test_post_entry_is_once_per_ref(database_url: str) -> None:
    user = _user(1_000)
    assert billing.post_entry(user.id, 500, "bonus", "bonus:x") is True
    assert billing.post_entry(user.id, 500, "bonus", "bonus:x") is False
    assert _balance(user) == 1_500
    assert LedgerEntry.select().where(LedgerEntry.user == user.id).count() == 2


def test_debit_below_zero_is_refused_and_changes_nothing(database_url: str) -> None:
    user = _user(1_000)
    with pytest.raises(billing.InsufficientBalance):
        billing.adjust(user.id, -1_001, "refund to card")
    assert _balance(user) == 1_000
    assert LedgerEntry.select().count() == 1


def test_adjustment_needs_a_reason(database_url: str) -> None:
    user = _user(0)
    with pytest.raises(ValueError):
        billing.adjust(user.id, 10, "  ")
    assert _balance(user) == 0


def test_hold_is_conditional_and_settle_moves_money_once(database_url: str) -> None:
    user = _user(10_000)
    hold = billing.open_hold(user.id, "test", 6_000, ttl_s=60)
    assert hold is not None
    assert billing.open_hold(user.id, "test", 6_000, ttl_s=60) is None
    assert _balance(user) == 4_000
    done = billing.Settlement(
        request_id="r1", user_id=user.id, hold_id=hold, api_key_id=None, model="m", charge=1_234
    )
    assert billing.settle([done, done]) == ["r1"]
    assert billing.settle([done]) == []
    assert billing.shrink_hold(hold, 0, close=True) == 6_000 - 1_234
    assert _balance(user) == 10_000 - 1_234
    assert UsageRecord.select().count() == 1
    assert billing.reconcile() == []


def test_expired_hold_returns_money_and_is_visible(database_url: str) -> None:
    user = _user(5_000)
    hold = billing.open_hold(user.id, "dead-process", 3_000, ttl_s=-1)
    assert _balance(user) == 2_000
    expired = billing.expire_stale_holds()
    assert [h.id for h in expired] == [hold]
    assert Hold.get_by_id(hold).state == "expired"
    assert _balance(user) == 5_000
    assert billing.reconcile() == []


def test_a_charge_whose_hold_expired_is_taken_from_the_balance(database_url: str) -> None:
    user = _user(10_000)
    hold = billing.open_hold(user.id, "stalled-process", 6_000, ttl_s=-1)
    assert [h.id for h in billing.expire_stale_holds()] == [hold]
    assert _balance(user) == 10_000  # the worker gave the whole hold back
    late = billing.Settlement(
        request_id="r-late", user_id=user.id, hold_id=hold, api_key_id=None, model="m", charge=1_234
    )

    assert billing.settle([late]) == ["r-late"]

    assert _balance(user) == 10_000 - 1_234
    assert Hold.get_by_id(hold).amount == 6_000 and Hold.get_by_id(hold).state == "expired"
    assert billing.shrink_hold(hold, 0, close=True) == 0
    assert billing.reconcile() == []


def test_concurrent_holds_never_overdraw(database_url: str) -> None:
    user = _user(10_000)
    results: list[int | None] = []

    def take() -> None:
        results.append(billing.open_hold(user.id, "t", 3_000, ttl_s=60))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r is not None) == 3
    assert _balance(user) == 1_000
    assert billing.reconcile() == []


@pytest.mark.parametrize("count", [0, 1, 7, 512, 1_000])
def test_binary_chunks_cover_everything_in_order_in_few_shapes(count: int) -> None:
    items = list(range(count))

    chunks = list(binary_chunks(items, 300))

    assert [x for chunk in chunks for x in chunk] == items
    assert all(len(c) <= 300 and len(c) & (len(c) - 1) == 0 for c in chunks)
    assert len({len(c) for c in chunks}) <= 9


def test_a_large_batch_with_repeats_bills_each_request_once(database_url: str) -> None:
    user = _user(10_000_000)
    batch = [
        billing.Settlement(
            request_id=f"r{i}", user_id=user.id, hold_id=None, api_key_id=None, model="m", charge=1_000
        )
        for i in range(1_300)
    ]
    assert len(billing.settle(batch[:700])) == 700

    again = billing.settle(batch)

    assert again == [f"r{i}" for i in range(700, 1_300)]
    assert UsageRecord.select().count() == 1_300
    assert LedgerEntry.select().where(LedgerEntry.kind == "charge").count() == 1_300
    assert _balance(user) == 10_000_000 - 1_300 * 1_000
    assert billing.reconcile() == []
