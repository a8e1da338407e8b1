"""Leases across processes, leases the worker expired, and settlement that survives database errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from peewee import OperationalError

from dataplane.settlements import Settler
from shared import billing
from shared.db import db
from shared.models import Hold, UsageRecord, utcnow
from tests.dataplane.helpers import (
    CHAT_MODEL,
    Customer,
    Shop,
    active_holds,
    balance,
    charges,
    eventually,
    statuses_all_at_once,
    usage_for,
)
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


def test_two_data_planes_on_one_database_never_overdraw(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(3_000_000)
    gateways = [start_gateway(min_reply_tokens=400), start_gateway(min_reply_tokens=400)]
    # 500,000 each; the upstream answers once every request was let in or refused.
    upstream.default = Reply(usage=(100, 200), latency_s=60)
    clients = [customer.client(gateways[i % 2].url) for i in range(10)]
    results = statuses_all_at_once(upstream, clients, max_tokens=400)

    successes = results.count(200)
    assert 1 <= successes <= 5 and results.count(402) == 10 - successes
    # Each request holds ~0.9M: whichever process takes them, three fit in 3M and a fourth does not.
    assert sorted(results) == [200] * 3 + [402] * 7
    usage_for(successes)
    for gateway in gateways:
        gateway.stop()
    assert charges(customer.user_id) == [500_000] * successes
    assert balance(customer.user_id) == 3_000_000 - 500_000 * successes
    assert active_holds() == 0
    assert billing.reconcile() == []


def test_a_lease_the_worker_expired_is_replaced(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway(lease_idle_release_s=60)
    client = alice.client(gateway.url)
    client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    usage_for(1)
    # The process "stalled" past its lease deadline: the worker gives the lease back.
    [expired] = billing.expire_stale_holds(now=utcnow() + dt.timedelta(days=1))

    client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=100_000)

    usage_for(2)
    assert Hold.get_by_id(expired.id).state == "expired"
    assert Hold.select().where(Hold.state == "active").count() == 1
    gateway.stop()
    assert balance(alice.user_id) == 10_000_000_000 - 2 * 20_000
    assert billing.reconcile() == []


def test_a_request_in_flight_when_its_lease_expired_is_still_charged(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway(lease_idle_release_s=60)
    upstream.script(Reply(usage=(10, 5), latency_s=60))  # 20,000
    replies: list[str | None] = []

    def call() -> None:
        completion = alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
        replies.append(completion.choices[0].message.content)

    thread = threading.Thread(target=call)
    thread.start()
    eventually(lambda: upstream.requests, what="the request to reach the upstream")
    # The process "stalled" with the request in flight: the worker gives its whole lease back.
    [expired] = billing.expire_stale_holds(now=utcnow() + dt.timedelta(days=1))
    assert balance(alice.user_id) == 10_000_000_000
    upstream.release()
    thread.join()

    assert replies == ["Hello from upstream"]
    [record] = usage_for(1)
    assert record.charge == 20_000
    assert charges(alice.user_id) == [20_000]
    gateway.stop()
    assert Hold.get_by_id(expired.id).state == "expired"
    assert balance(alice.user_id) == 10_000_000_000 - 20_000
    assert active_holds() == 0
    assert billing.reconcile() == []


def _closing(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` on this thread's own connection and close it afterwards."""
    try:
        return fn(*args)
    finally:
        db.close()


def test_settlement_is_retried_until_the_database_answers(database_url: str, shop: Shop) -> None:
    customer = shop.customer(1_000_000)
    hold = billing.open_hold(customer.user_id, "test", 100_000, ttl_s=60)
    failures = [OperationalError("database is locked"), OperationalError("server closed the connection")]
    calls: list[int] = []

    async def run_db(fn: Callable[..., Any], *args: Any) -> Any:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return await asyncio.to_thread(_closing, fn, *args)

    async def scenario() -> list[str]:
        settler = Settler(run_db, flush_interval_s=0.001)
        settler.start()
        done: list[str] = []
        settlement = billing.Settlement(
            request_id="req_retry",
            user_id=customer.user_id,
            hold_id=hold,
            api_key_id=customer.key_id,
            model=CHAT_MODEL,
            charge=1_234,
        )
        settler.put(settlement, lambda: done.append("req_retry"))
        await settler.close()
        return done

    done = asyncio.run(scenario())

    assert done == ["req_retry"] and len(calls) == 3
    assert UsageRecord.get(UsageRecord.request_id == "req_retry").charge == 1_234
    assert charges(customer.user_id) == [1_234]
    billing.shrink_hold(hold, 0, close=True)
    assert balance(customer.user_id) == 1_000_000 - 1_234


def _unreachable(*_args: Any) -> set[int]:
    raise OperationalError("the database is unreachable (test)")


def test_a_lease_lost_under_a_live_process_never_takes_a_balance_below_zero(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable, monkeypatch: Any
) -> None:
    customer = stocked.customer(1_000_000_000)
    gateway = start_gateway(lease_ttl_s=3.0)
    client = customer.client(gateway.url)
    # Three streams that deliver 10 deltas, then stall; what they deliver is priced above what is left.
    upstream.default = Reply(text=" ".join(["tok"] * 20), usage=(10, 20), stall_after=11, stall_s=60)
    results: list[Any] = []

    def read() -> None:
        try:
            results.append(
                list(client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True))
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    eventually(lambda: len(upstream.requests) == 3, what="three streams open")
    started = utcnow()
    # The database goes away for this process's lease renewals; the worker expires the lease.
    monkeypatch.setattr("dataplane.leases._refresh", _unreachable)
    [lease] = eventually(
        lambda: billing.expire_stale_holds() or None, timeout=10, what="the worker expiring the lease"
    )
    assert lease.holder.startswith("dataplane:")
    # The process no longer trusts the lease it could not renew: nothing new is carved from it.
    upstream.default = Reply(usage=(10, 5))
    try:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    except Exception as exc:  # noqa: BLE001
        refused = exc
    assert getattr(refused, "status_code", None) == 503
    # Meanwhile the customer's money went elsewhere: 2,000 nano-USD are left.
    billing.adjust(customer.user_id, -(balance(customer.user_id) - 2_000), "spent elsewhere (test)")
    upstream.release()
    for reader in readers:
        reader.join(timeout=30)
    records = usage_for(3)
    assert len(records) == 3 and all(r.hold_lost for r in records)
    priced = [r.prompt_tokens * 1_000 + r.completion_tokens * 2_000 for r in records]
    assert [r.charge + r.shortfall for r in records] == priced
    assert sum(r.charge for r in records) == 2_000  # what the balance had, and no more
    assert balance(customer.user_id) == 0
    assert billing.overdrafts() == [] and billing.reconcile() == []
    [lost] = billing.lost_hold_charges(started - dt.timedelta(minutes=1))
    assert (lost.user_id, lost.requests, lost.collected) == (customer.user_id, 3, 2_000)
    assert lost.shortfall == sum(priced) - 2_000


def test_steady_traffic_is_settled_in_one_commit_per_interval_not_one_per_request() -> None:
    batches: list[int] = []

    async def run_db(fn: Callable[..., Any], batch: list[Any]) -> Any:
        batches.append(len(batch))
        await asyncio.sleep(0.005)  # a commit takes a while, and requests keep coming meanwhile
        return []

    async def scenario() -> None:
        settler = Settler(run_db, flush_interval_s=0.1)
        settler.start()
        for i in range(150):  # 500 requests a second for 0.3 s
            settlement = billing.Settlement(request_id=f"req_{i}", user_id=1, hold_id=None,
                                            api_key_id=None, model=CHAT_MODEL, charge=0)  # fmt: skip
            settler.put(settlement, lambda: None)
            await asyncio.sleep(0.002)
        await settler.close()

    asyncio.run(scenario())

    assert sum(batches) == 150
    # About one commit per 0.1 s gathering: writing at once what came during a commit made one
    # commit per request or two, and the interval never applied.
    assert len(batches) <= 6, batches
