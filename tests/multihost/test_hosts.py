"""Two hosts behind HAProxy, one PostgreSQL, one Redis: what an operator who scales out relies on.

Host "a" and host "b" are network namespaces, each with a data plane started as
`tollgate serve-api` inside it, behind HAProxy run from deploy/haproxy.cfg. No worker runs on
host "a", as on a machine that only serves the API.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from shared import billing, jobs
from shared.models import LedgerEntry, UsageRecord
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, active_holds, balance, eventually
from tests.multihost.conftest import Cluster, Services
from tests.support.upstream import Reply

HELLO = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}
DEPOSIT = 10_000_000_000
SMALL = 10 * 1_000 + 5 * 2_000  # a reply of (10, 5) tokens at 1 and 2 USD per 1M
CLIENTS = 8
REQUESTS = 240
KILL_AFTER = 60  # answered requests before host a's data plane is killed
RPM = 6


@dataclass
class Outcome:
    """One request as the customer saw it."""

    client_id: str
    started: float
    ended: float
    status: int | None  # None: the connection failed
    body: str


def _call(http: httpx.Client, customer: Customer) -> Outcome:
    client_id = uuid.uuid4().hex
    started = time.monotonic()
    headers = {"authorization": f"Bearer {customer.secret}", "x-request-id": client_id}
    try:
        reply = http.post("/v1/chat/completions", json=HELLO, headers=headers)
        status, body = reply.status_code, reply.text
    except httpx.TransportError as exc:
        status, body = None, repr(exc)
    return Outcome(client_id, started, time.monotonic(), status, body)


def _traffic(url: str, customer: Customer, outcomes: list[Outcome]) -> list[threading.Thread]:
    """CLIENTS threads sending REQUESTS requests in all through the balancer."""
    tickets = iter(range(REQUESTS))
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while True:
                with lock:
                    if next(tickets, None) is None:
                        return
                outcome = _call(http, customer)
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return threads


def _urls(cluster: Cluster) -> tuple[str, str]:
    """Host a's and host b's data planes, straight (not through the balancer)."""
    return cluster.planes["a"].url, cluster.planes["b"].url


def _records() -> list[UsageRecord]:
    return list(UsageRecord.select())


def _assert_billing_exact(customer: Customer, services: Services, outcomes: list[Outcome]) -> None:
    """Usage records, ledger charges, upstream calls and the balance agree, to the nano-dollar."""
    answered = {o.client_id for o in outcomes if o.status == 200}
    failed = {o.client_id for o in outcomes if o.status != 200}
    records = _records()
    by_client = {r.client_request_id: r for r in records}
    upstream_ids = [logged.headers["x-request-id"] for logged in services.upstream.requests]
    recorded_ids = {r.request_id for r in records}

    assert len(by_client) == len(records)  # one record per request
    assert answered <= {c for c, r in by_client.items() if r.status == "ok"}  # every answer billed
    assert set(by_client) <= answered | failed  # nothing billed that was not asked
    # Every upstream call is billed once; a record without one was admitted and cut before it.
    assert len(upstream_ids) == len(set(upstream_ids)) and set(upstream_ids) <= recorded_ids
    for record in records:
        if record.status == "ok":
            assert record.charge == SMALL
        else:
            assert record.status == "unsettled" and record.client_request_id in failed
        if record.request_id not in upstream_ids:
            assert record.status == "unsettled" and record.charge == 0
    ledger = list(LedgerEntry.select().where(LedgerEntry.kind == "charge"))
    assert sorted(-e.amount for e in ledger) == sorted(r.charge for r in records if r.charge)
    assert {e.ref for e in ledger} == {f"req:{r.request_id}" for r in records if r.charge}
    assert balance(customer.user_id) == DEPOSIT - sum(r.charge for r in records)
    assert active_holds() == 0
    assert billing.reconcile() == [] and billing.overdrafts() == []


def test_a_key_gets_its_requests_per_minute_once_across_both_hosts(
    shop: Shop, services: Services, start_cluster: Callable[..., Cluster]
) -> None:
    customer = shop.customer(DEPOSIT, rpm_limit=RPM)
    cluster = start_cluster()
    a, b, balanced = (httpx.Client(base_url=url, timeout=15) for url in (*_urls(cluster), cluster.url))

    with a, b, balanced:
        outcomes = [_call((a, b)[i % 2], customer) for i in range(2 * RPM + 4)]  # a, b, a, b, ...
        through = _call(balanced, customer)

    assert [o.status for o in outcomes] == [200] * RPM + [429] * (RPM + 4)
    assert through.status == 429
    assert len(services.upstream.requests) == RPM
    eventually(lambda: len(_records()) == RPM, what="the answered requests settled")
    cluster.stop()
    _assert_billing_exact(customer, services, outcomes)


def test_kill_9_of_one_host_loses_only_its_requests_in_flight_and_no_money(
    shop: Shop, services: Services, start_cluster: Callable[..., Cluster]
) -> None:
    customer = shop.customer(DEPOSIT)
    services.upstream.default = Reply(usage=(10, 5), latency_s=0.1)
    # Host a settles nothing before it dies: every charge of its requests comes from its journal.
    cluster = start_cluster(a={"TOLLGATE_SETTLE_FLUSH_INTERVAL_S": "60"})
    outcomes: list[Outcome] = []

    clients = _traffic(cluster.url, customer, outcomes)
    eventually(lambda: sum(o.status == 200 for o in outcomes) >= KILL_AFTER, timeout=30, what="traffic")
    kill_started = time.monotonic()
    cluster.planes["a"].kill()
    killed = time.monotonic()
    for client in clients:
        client.join(timeout=60)

    assert len(outcomes) == REQUESTS
    lost = [o for o in outcomes if o.status != 200]
    assert len(lost) <= CLIENTS
    for outcome in lost:  # in flight on host a when it died, and told so by the balancer
        assert outcome.started < killed and outcome.ended > kill_started
        assert outcome.status is None or (outcome.status == 502 and "Bad Gateway" in outcome.body)
    answered = {o.client_id for o in outcomes if o.status == 200}
    # What host a answered is in its journal, on its disk: a worker on host b cannot see it.
    assert list(cluster.journals("a").glob("*.journal"))
    assert jobs.recover_journals(cluster.planes["b"].settings) == []
    assert answered - {r.client_request_id for r in _records()}
    cluster.restart("a")  # as systemd would: it recovers the dead process's journal before serving
    eventually(lambda: answered <= {r.client_request_id for r in _records()}, what="every answer billed")
    logs = cluster.stop()
    assert "recovered the journal" in logs["a"]
    assert list(cluster.journals("a").iterdir()) == []
    _assert_billing_exact(customer, services, outcomes)
