"""One scanner at a time: the scheduler never overlaps a run, and the DB lease stops a second worker."""

from __future__ import annotations

import datetime as dt
import threading

from shared import jobs
from shared.db import db
from shared.settings import Settings
from shared.tron import lease
from shared.tron.config import TronConfig
from shared.tron.models import TronDeposit
from shared.tron.scanner import Scanner
from tests.tron.conftest import SENDER, T0, Clock, Customer
from tests.tron.fake_node import FakeTronNode


def test_lease_is_exclusive_until_it_expires(tron: TronConfig) -> None:
    assert lease.acquire("job", "a", 60, T0)
    assert not lease.acquire("job", "b", 60, T0 + dt.timedelta(seconds=30))
    assert lease.acquire("job", "a", 60, T0 + dt.timedelta(seconds=30))  # renewal
    assert lease.holder_of("job", T0 + dt.timedelta(seconds=60)) == "a"
    assert lease.acquire("job", "b", 60, T0 + dt.timedelta(seconds=91))  # stale: taken over
    assert lease.holder_of("job", T0 + dt.timedelta(seconds=91)) == "b"


def test_second_worker_does_not_scan_while_the_first_holds_the_lease(
    settings: Settings, fake: FakeTronNode, alice: Customer, clock: Clock
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    fake.fail(path="gettransactioninfobyblocknum", delay_s=0.4, body="[]", times=1)
    first, second = Scanner(settings, clock=clock, holder="w1"), Scanner(settings, clock=clock, holder="w2")
    reports = {}

    def run(name: str, scanner: Scanner) -> None:
        with db.connection_context():
            reports[name] = scanner.run_once()

    slow = threading.Thread(target=run, args=("w1", first))
    slow.start()
    while not lease.holder_of("tron_scanner", clock.now):
        pass
    run("w2", second)
    slow.join(10)
    assert reports["w2"].skipped == "another scanner holds the lease"
    assert reports["w1"].error == ""
    clock.advance(300)  # w1 died: its lease went stale
    assert second.run_once().skipped == ""
    assert TronDeposit.select().count() == 1 and alice.balance == 12_000_000_000


def test_worker_schedules_the_scanner_once_without_overlap(settings: Settings) -> None:
    scheduler = jobs.build_scheduler(settings)
    job = scheduler.get_job("scan_tron_deposits")
    assert job is not None
    # Jobs get the scheduler's defaults when it starts; APScheduler 3 keeps them here until then.
    assert scheduler._job_defaults["max_instances"] == 1 and scheduler._job_defaults["coalesce"] is True
    assert job.trigger.interval.total_seconds() == settings.tron_scan_interval_s
