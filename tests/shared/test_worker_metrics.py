"""The worker's /metrics: job runs counted as they happen, the rest read from the database on scrape."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared import accounts, billing, outbox
from shared.metrics_server import MetricsServer
from shared.models import Hold, utcnow
from shared.outbox import MAX_ATTEMPTS, OutgoingMail
from shared.scrape_access import may_scrape
from shared.settings import Secret, Settings
from shared.tron.state import ScannerState, load_state, save_state
from shared.worker_metrics import WorkerMetrics
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 6, 1, 12, 0, 0)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def serve(settings: Settings) -> Iterator[callable]:  # type: ignore[valid-type]
    servers: list[MetricsServer] = []

    def start(metrics: WorkerMetrics, token: Secret | None = None) -> str:
        servers.append(MetricsServer("127.0.0.1", 0, metrics.registry, token).start())
        return f"http://127.0.0.1:{servers[-1].port}/metrics"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _scanner_state(cursor: int, solid: int, failures: int, total: int, last_ok: dt.datetime) -> None:
    save_state(
        "mainnet",
        ScannerState(
            cursor=cursor,
            head_seen=solid + 19,
            solid_seen=solid,
            last_ok=last_ok.isoformat(),
            failures=failures,
            total_failures=total,
        ),
    )


def test_a_scrape_shows_what_the_database_holds(settings: Settings, serve) -> None:  # type: ignore[no-untyped-def]
    _scanner_state(
        cursor=70_000_000, solid=70_000_042, failures=2, total=7, last_ok=NOW - dt.timedelta(minutes=3)
    )
    old = outbox.enqueue("a@example.com", "s", "b", "low_balance")
    outbox.enqueue("b@example.com", "s", "b", "key_created")
    dead = outbox.enqueue("c@example.com", "s", "b", "key_created")
    sent = outbox.enqueue("d@example.com", "s", "b", "key_created")
    OutgoingMail.update(created_at=NOW - dt.timedelta(seconds=90)).where(OutgoingMail.id == old.id).execute()
    OutgoingMail.update(attempts=MAX_ATTEMPTS).where(OutgoingMail.id == dead.id).execute()
    OutgoingMail.update(sent_at=NOW, attempts=1).where(OutgoingMail.id == sent.id).execute()
    user = accounts.create_user("buyer@example.com")
    billing.post_entry(user.id, 10_000, "deposit", "dep:1")
    for holder, expired_s_ago in (("dp-1", 30), ("dp-2", 5), ("dp-3", -60)):  # the last one is live
        hold = billing.open_hold(user.id, holder, 100, ttl_s=60)
        Hold.update(expires_at=NOW - dt.timedelta(seconds=expired_s_ago)).where(Hold.id == hold).execute()

    got = samples(httpx.get(serve(WorkerMetrics(settings, clock=lambda: NOW))).text)

    network = (("network", "mainnet"),)
    assert got["tollgate_worker_database_up", ()] == 1
    assert got["tollgate_deposit_scanner_lag_blocks", network] == 42
    assert got["tollgate_deposit_scanner_configured", network] == 0
    last_ok = (NOW - dt.timedelta(minutes=3)).replace(tzinfo=dt.UTC).timestamp()
    assert got["tollgate_deposit_scanner_last_success_timestamp_seconds", network] == last_ok
    assert got["tollgate_deposit_scanner_errors_total", network] == 7
    assert got["tollgate_deposit_scanner_consecutive_failures", network] == 2
    assert got["tollgate_mail_queued", ()] == 2
    assert got["tollgate_mail_queued_oldest_age_seconds", ()] == 90
    assert got["tollgate_mail_given_up", ()] == 1
    assert got["tollgate_holds_stale", ()] == 2
    assert got["tollgate_holds_stale_oldest_age_seconds", ()] == 30
    assert ("process_cpu_seconds_total", ()) in got


def test_an_empty_database_scrapes_as_zeros_without_the_scanner_series_it_has_no_state_for(
    settings: Settings,
    serve,  # type: ignore[no-untyped-def]
) -> None:
    got = samples(httpx.get(serve(WorkerMetrics(settings, clock=lambda: NOW))).text)
    assert got["tollgate_mail_queued", ()] == got["tollgate_holds_stale", ()] == 0
    assert got["tollgate_holds_stale_oldest_age_seconds", ()] == 0
    assert got["tollgate_deposit_scanner_errors_total", (("network", "mainnet"),)] == 0
    assert not any(name == "tollgate_deposit_scanner_lag_blocks" for name, _ in got)
    assert not any(name.startswith("tollgate_deposit_scanner_last_success") for name, _ in got)


def test_jobs_are_counted_and_timed_and_their_failures_still_raise(settings: Settings, serve) -> None:  # type: ignore[no-untyped-def]
    metrics = WorkerMetrics(settings)

    def broken(_settings: Settings) -> None:
        raise RuntimeError("boom")

    fine = metrics.jobs.timed("fine", lambda _settings: 5)
    failing = metrics.jobs.timed("broken", broken)
    assert fine(settings) == 5 and fine(settings) == 5
    with pytest.raises(RuntimeError, match="boom"):
        failing(settings)
    got = samples(httpx.get(serve(metrics)).text)
    assert got["tollgate_worker_job_runs_total", (("job", "fine"),)] == 2
    assert got["tollgate_worker_job_failures_total", (("job", "fine"),)] == 0
    assert got["tollgate_worker_job_runs_total", (("job", "broken"),)] == 1
    assert got["tollgate_worker_job_failures_total", (("job", "broken"),)] == 1
    assert got["tollgate_worker_job_duration_seconds_count", (("job", "fine"),)] == 2


def test_the_token_rule_is_the_data_planes(settings: Settings, serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(WorkerMetrics(settings), Secret("scrape-me"))
    assert httpx.get(url).status_code == 403
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert httpx.get(url, headers={"Authorization": "Bearer scrape-me"}).status_code == 200
    assert httpx.get(url.replace("/metrics", "/other")).status_code == 404
    open_url = serve(WorkerMetrics(settings))
    assert httpx.get(open_url).status_code == 200  # loopback, no token
    assert not may_scrape("10.0.0.7", "", None) and may_scrape("::1", "", None)


def test_the_worker_process_serves_metrics_and_logs_json(settings: Settings, database_url: str) -> None:
    _scanner_state(cursor=500, solid=542, failures=0, total=3, last_ok=utcnow())
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TOLLGATE_SECRET_KEY": "worker-test-secret",
        "TOLLGATE_VAR_DIR": str(settings.var_dir),
        "TOLLGATE_WORKER_METRICS_PORT": str(port),
        "TOLLGATE_LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "shared.jobs"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        got = _scrape_when(f"http://127.0.0.1:{port}/metrics", "tollgate_worker_job_runs_total")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, log = worker.communicate(timeout=30)
    assert worker.returncode == 0, log
    network = (("network", "mainnet"),)
    state = load_state("mainnet")
    assert got["tollgate_deposit_scanner_lag_blocks", network] == state.solid_seen - state.cursor == 42
    assert got["tollgate_deposit_scanner_errors_total", network] == 3
    assert got["tollgate_worker_job_runs_total", (("job", "heartbeat"),)] >= 1
    assert got["tollgate_worker_job_failures_total", (("job", "heartbeat"),)] == 0
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    messages = [line["message"] for line in lines if line["logger"] == "tollgate.worker"]
    assert messages[0].startswith("worker starting") and messages[-1] == "worker stopped"
    assert any(line["message"].startswith("worker metrics on http://127.0.0.1:") for line in lines)


def _scrape_when(url: str, name: str, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = samples(httpx.get(url, timeout=2).text)
        except httpx.TransportError:
            got = {}
        if got.get((name, (("job", "heartbeat"),)), 0) >= 1:  # each job's series exists from the start
            return got
        time.sleep(0.1)
    raise AssertionError(f"no {name} at {url}")
