"""The worker's jobs: stale holds come back to the balance, drifts are reported, the heartbeat moves."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared import accounts, billing, jobs
from shared.heartbeat import HEARTBEAT_KEY, last_heartbeat
from shared.models import Hold, KeyValue, LedgerEntry, User, utcnow
from shared.settings import Settings
from tests.support.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]


def _customer(balance: int) -> User:
    user = accounts.create_user("buyer@example.com")
    billing.post_entry(user.id, balance, "deposit", "dep:1")
    return user


def _stale_hold(user: User, amount: int) -> int:
    hold_id = billing.open_hold(user.id, "dataplane-1", amount, ttl_s=60)
    assert hold_id is not None
    Hold.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(Hold.id == hold_id).execute()
    return hold_id


def test_a_stale_hold_is_released_and_the_balance_restored(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    user = _customer(10_000)
    stale = _stale_hold(user, 3_000)
    live = billing.open_hold(user.id, "dataplane-2", 2_000, ttl_s=60)
    assert User.get_by_id(user.id).balance == 5_000
    with caplog.at_level(logging.WARNING, logger="tollgate.worker"):
        expired = jobs.expire_holds(settings)
    assert [h.id for h in expired] == [stale]
    assert User.get_by_id(user.id).balance == 8_000
    assert Hold.get_by_id(stale).state == "expired"
    assert Hold.get_by_id(live).state == "active"
    assert f"stale hold {stale}" in caplog.text and "0.000003000 USD" in caplog.text
    assert jobs.expire_holds(settings) == []
    assert User.get_by_id(user.id).balance == 8_000
    assert billing.reconcile() == []


def test_reconcile_reports_a_tampered_balance_and_leaves_it(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    user = _customer(10_000)
    billing.open_hold(user.id, "dataplane-1", 4_000, ttl_s=60)
    assert jobs.reconcile_balances(settings) == []
    User.update(balance=User.balance + 1_000).where(User.id == user.id).execute()
    with caplog.at_level(logging.ERROR, logger="tollgate.worker"):
        drifts = jobs.reconcile_balances(settings)
    assert drifts == [billing.Drift(user_id=user.id, stored=7_000, expected=6_000)]
    assert "BALANCE DRIFT" in caplog.text and "buyer@example.com" in caplog.text
    assert User.get_by_id(user.id).balance == 7_000


def test_heartbeat_records_when_the_worker_last_ran(settings: Settings) -> None:
    assert last_heartbeat() is None
    first = jobs.heartbeat(settings)
    assert last_heartbeat() == first
    second = jobs.heartbeat(settings)
    assert last_heartbeat() == second >= first
    assert KeyValue.select().where(KeyValue.key == HEARTBEAT_KEY).count() == 1


def test_the_scheduler_runs_every_registered_job(settings: Settings) -> None:
    extra = jobs.JobSpec("scan_deposits", lambda _settings: None, every=lambda s: s.lease_ttl_s / 60)
    scheduler = jobs.build_scheduler(settings, [*jobs.JOBS, extra])
    scheduled = {job.id: job for job in scheduler.get_jobs()}
    assert set(scheduled) == {
        "heartbeat",
        "recover_journals",
        "expire_stale_holds",
        "reconcile_balances",
        "scan_tron_deposits",
        "purge_stored_responses",
        "sync_prices",
        "warn_low_balances",
        "deliver_mail",
        "scan_deposits",
    }
    # A queued notice leaves within seconds; a low balance is noticed within a minute.
    assert scheduled["deliver_mail"].trigger.interval == dt.timedelta(seconds=10)
    assert scheduled["warn_low_balances"].trigger.interval == dt.timedelta(seconds=60)
    assert scheduled["sync_prices"].trigger.interval == dt.timedelta(hours=1)
    # The held money of a dead data plane is back within a minute (journal recovery, or the lease ttl).
    assert scheduled["recover_journals"].trigger.interval == dt.timedelta(seconds=10)
    assert scheduled["expire_stale_holds"].trigger.interval == dt.timedelta(seconds=10)
    assert scheduled["scan_deposits"].trigger.interval == dt.timedelta(seconds=settings.lease_ttl_s / 60)


def _wait_for(condition, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_process_releases_stale_holds_and_stops_on_sigterm(
    settings: Settings, database_url: str
) -> None:
    user = _customer(10_000)  # below the default low-balance threshold of $1
    stale = _stale_hold(user, 3_000)
    with SmtpSink() as sink:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TOLLGATE_SECRET_KEY": "worker-test-secret",
            "TOLLGATE_VAR_DIR": str(settings.var_dir),
            "TOLLGATE_SMTP_URL": sink.url,
            # Its metrics are tested in test_worker_metrics.py; two runs at once would share port 8002.
            "TOLLGATE_WORKER_METRICS_PORT": "0",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "shared.jobs"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            assert _wait_for(
                lambda: last_heartbeat() is not None and Hold.get_by_id(stale).state == "expired"
            )
            # warn_low_balances queues the notice, deliver_mail sends it
            warning = sink.wait_for_mail(timeout_s=30)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, log = worker.communicate(timeout=30)
    assert worker.returncode == 0, log
    assert warning["To"] == "buyer@example.com" and "balance is low" in warning["Subject"]
    assert User.get_by_id(user.id).balance == 10_000
    assert "worker stopped" in log


def test_reconciliation_flags_a_negative_balance(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    user = _customer(0)
    User.update(balance=-5).where(User.id == user.id).execute()
    LedgerEntry.create(user=user.id, amount=-5, kind="adjustment", ref="adj:test", reason="test")
    with caplog.at_level("ERROR"):
        jobs.reconcile_balances(settings)
    assert billing.reconcile() == []  # the ledger agrees: only the sign is wrong
    assert f"NEGATIVE BALANCE for user {user.id}" in caplog.text
