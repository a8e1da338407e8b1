"""kill -9 of a real data-plane process loses no money (shared/journal.py, dataplane/journal.py).

The process runs with a 60 s settlement flush, so when it is killed nothing it served is in the
database yet: every charge below comes from its journal.
"""

from __future__ import annotations

import threading
import time

import openai
import pytest

from dataplane.stream_relay import CHECKPOINT_S
from shared import billing, jobs
from shared.models import Hold, UsageRecord
from shared.settings import Settings
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, active_holds, balance, charges, eventually
from tests.support.processes import DataPlaneProcess
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]
DEPOSIT = 10_000_000_000
SMALL = 10 * 1_000 + 5 * 2_000  # a reply of (10, 5) tokens at 1 and 2 USD per 1M
CUT_AFTER = 300  # deltas each cut stream had delivered when the process died


def _read_until_killed(client: openai.OpenAI, counted: list[int], slot: int) -> None:
    try:
        for chunk in client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                counted[slot] += 1
    except openai.APIConnectionError:
        pass  # the process died under the stream


def _serve_then_kill(customer: Customer, upstream: FakeUpstream, process: DataPlaneProcess) -> None:
    """Complete 5 replies and 2 streams, leave 4 streams open mid-way, then SIGKILL the process."""
    client = customer.client(process.url)
    upstream.default = Reply(usage=(10, 5))
    for _ in range(5):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    for _ in range(2):
        assert list(client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, stream=True))
    upstream.default = Reply(
        text=" ".join(["tok"] * 400), usage=(10, 400), stall_after=CUT_AFTER + 1, stall_s=120
    )
    counted = [0] * 4
    readers = [threading.Thread(target=_read_until_killed, args=(client, counted, i)) for i in range(4)]
    for reader in readers:
        reader.start()
    eventually(lambda: counted == [CUT_AFTER] * 4, timeout=20, what="every stream at its stall")
    time.sleep(CHECKPOINT_S + 1)  # the quiet streams get their time checkpoint
    assert UsageRecord.select().count() == 0  # nothing is in the database: it is all in the journal
    process.kill()
    for reader in readers:
        reader.join(timeout=30)


def _assert_exact(customer: Customer) -> None:
    records = list(UsageRecord.select().order_by(UsageRecord.id))
    done = [r for r in records if r.status == "ok"]
    cut = [r for r in records if r.status == "unsettled"]
    assert len(records) == 11 and len(done) == 7 and len(cut) == 4
    assert [r.charge for r in done] == [SMALL] * 7
    for record in cut:
        assert record.completion_tokens == CUT_AFTER and record.usage_source == "checkpoint"
        assert record.prompt_tokens > 0
        assert record.charge == record.prompt_tokens * 1_000 + CUT_AFTER * 2_000
        assert record.held > record.charge and "stopped mid-request" in record.error
    total = sum(r.charge for r in records)
    assert sorted(charges(customer.user_id)) == sorted(r.charge for r in records)
    assert active_holds() == 0  # the dead process's lease is given back
    assert balance(customer.user_id) == DEPOSIT - total
    assert billing.reconcile() == [] and billing.overdrafts() == []


def test_kill_9_then_the_worker_bills_every_finished_request_and_cut_streams_to_their_checkpoint(
    stocked: Shop, upstream: FakeUpstream, settings: Settings
) -> None:
    customer = stocked.customer(DEPOSIT)
    process = DataPlaneProcess(settings, TOLLGATE_SETTLE_FLUSH_INTERVAL_S="60").start()
    try:
        _serve_then_kill(customer, upstream, process)
        assert Hold.select().where(Hold.state == "active").count() == 1  # its lease, still held
        killed_at = time.monotonic()
        [recovered] = jobs.recover_journals(settings)
        assert time.monotonic() - killed_at < 60
    finally:
        process.stop()
    assert (recovered.settled, recovered.unsettled) == (7, 4)
    assert recovered.released > 0
    _assert_exact(customer)
    assert jobs.recover_journals(settings) == []  # nothing left, nothing twice
    assert list(settings.journals.iterdir()) == []


def test_kill_9_then_a_restarted_data_plane_recovers_before_serving(
    stocked: Shop, upstream: FakeUpstream, settings: Settings
) -> None:
    customer = stocked.customer(DEPOSIT)
    first = DataPlaneProcess(settings, TOLLGATE_SETTLE_FLUSH_INTERVAL_S="60").start()
    second = DataPlaneProcess(settings)
    try:
        _serve_then_kill(customer, upstream, first)
        second.start()  # answers only after its start-up recovery
        _assert_exact(customer)
        upstream.default = Reply(usage=(10, 5))
        customer.client(second.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
        eventually(lambda: UsageRecord.select().count() == 12, what="the new request settled")
    finally:
        first.stop()
        log = second.stop()
    assert "recovered the journal" in log
    assert list(settings.journals.iterdir()) == []  # a clean stop leaves no journal behind


@pytest.fixture(autouse=True)
def _release_stalls(upstream: FakeUpstream):  # type: ignore[no-untyped-def]
    yield
    upstream.release()
