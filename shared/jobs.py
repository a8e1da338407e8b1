"""The worker: the one APScheduler process (`tollgate worker`) and the jobs it runs.

Each job is a plain function of the process's `Settings`; it opens and closes its own database
connection, needs no request context, and can run twice without harm. `JOBS` lists what the
worker schedules: a new job is a function here (or in its own module) plus one `JobSpec` line.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from shared import billing, journal, logs, notices, outbox, responses_store, site
from shared.db import db, init_db, is_postgres
from shared.heartbeat import record_heartbeat
from shared.metrics_server import serve_metrics
from shared.models import Hold, User, utcnow
from shared.money import format_usd
from shared.pricing import settings as price_settings
from shared.pricing.sync import SyncResult, sync
from shared.settings import Settings
from shared.tron.jobs import scan_deposits
from shared.vault import VaultError
from shared.worker_metrics import JobMetrics, WorkerMetrics

log = logging.getLogger("tollgate.worker")


@dataclass(frozen=True)
class JobSpec:
    """A job the worker runs every `every` seconds (a number, or read from the settings), first at start."""

    id: str
    run: Callable[[Settings], object]
    every: float | Callable[[Settings], float]

    def interval_s(self, settings: Settings) -> float:
        """Seconds between two runs for this process's settings."""
        return self.every(settings) if callable(self.every) else self.every


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """A read transaction in which every query sees the same committed state.

    Reconciliation sums the ledger, the holds and the balances in three queries; without one
    snapshot a settlement committed between them would show up as a false drift.
    """
    with db.atomic():
        if is_postgres():
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def expire_holds(settings: Settings) -> list[Hold]:
    """Release holds whose holder stopped refreshing them; each becomes an "expired" hold row."""
    with db.connection_context():
        expired = billing.expire_stale_holds()
        for hold in expired:
            log.warning(
                "released stale hold %s of user %s (holder %s): %s USD back to the balance",
                hold.id,
                hold.user_id,
                hold.holder,
                format_usd(hold.amount),
            )
    return expired


RECONCILE_EVERY_S = 300


def recover_journals(settings: Settings) -> list[journal.Recovered]:
    """Settle what dead data planes on this host left in their journals, then free their holds."""
    with db.connection_context():
        return journal.recover(settings.journals)


def reconcile_balances(settings: Settings) -> list[billing.Drift]:
    """Check balances: drifts from Σ ledger − Σ active holds, balances below zero, and charges
    settled after their lease was lost (requests of the last day); report them, fix nothing."""
    since = utcnow() - dt.timedelta(days=1)
    with db.connection_context(), consistent_snapshot():
        drifts = billing.reconcile()
        negative = billing.overdrafts()
        lost = billing.lost_hold_charges(since)
        ids = [d.user_id for d in drifts] + [o.user_id for o in negative] + [x.user_id for x in lost]
        emails = dict(User.select(User.id, User.email).where(User.id.in_(ids)).tuples())
    for drift in drifts:
        log.error(
            "BALANCE DRIFT for user %s (%s): stored %s USD, ledger minus active holds says %s USD",
            drift.user_id,
            emails.get(drift.user_id, "?"),
            format_usd(drift.stored),
            format_usd(drift.expected),
        )
    for overdraft in negative:
        log.error(
            "NEGATIVE BALANCE for user %s (%s): %s USD",
            overdraft.user_id,
            emails.get(overdraft.user_id, "?"),
            format_usd(overdraft.balance),
        )
    for charges in lost:
        log.error(
            "CHARGED AFTER A LOST LEASE for user %s (%s), last 24 h: %d request(s), %s USD collected "
            "from the balance, %s USD not collected (shortfall)",
            charges.user_id,
            emails.get(charges.user_id, "?"),
            charges.requests,
            format_usd(charges.collected),
            format_usd(charges.shortfall),
        )
    if not (drifts or negative or lost):
        log.info("balances reconcile with the ledger")
    return drifts


def purge_stored_responses(settings: Settings) -> int:
    """Forget stored Responses API responses past their retention."""
    removed = responses_store.purge_expired()
    if removed:
        log.info("purged %d expired stored responses", removed)
    return removed


def sync_prices(settings: Settings) -> SyncResult | None:
    """Update costs and sale prices from the price sources; large moves wait for the operator.

    Only once the operator chose the sources (`tollgate prices sources set`): an upgraded
    gateway's hand-set prices are not moved until then.
    """
    with db.connection_context():
        if not price_settings.configured():
            return None
        result = sync(secret_key=settings.secret_key)
    for source in result.sources:
        if not source["ok"]:
            log.warning("price source %s failed, its prices stay: %s", source["name"], source["error"])
    if result.applied or result.held:
        log.info("price sync: %d applied, %d held for approval", len(result.applied), len(result.held))
    return result


def deliver_mail(settings: Settings) -> outbox.Delivery:
    """Send the queued notices with the Settings page's SMTP server (else TOLLGATE_SMTP_URL)."""
    with db.connection_context():
        try:
            mailer = site.mailer(site.load(), settings)
        except VaultError as exc:
            log.error("mail stays queued: %s", exc)
            return outbox.Delivery()
        return outbox.deliver(mailer)


def warn_low_balances(settings: Settings) -> int:
    """Queue a low-balance notice for each customer who fell below their threshold (once per dip)."""
    with db.connection_context():
        return notices.warn_low_balances()


def heartbeat(settings: Settings) -> dt.datetime:
    """Record that the worker is alive (naive UTC, ISO 8601) for /api/status and the console."""
    with db.connection_context():
        return record_heartbeat()


JOBS: tuple[JobSpec, ...] = (
    JobSpec("heartbeat", heartbeat, every=15),
    JobSpec("recover_journals", recover_journals, every=10),
    JobSpec("expire_stale_holds", expire_holds, every=10),
    JobSpec("reconcile_balances", reconcile_balances, every=RECONCILE_EVERY_S),
    JobSpec("scan_tron_deposits", scan_deposits, every=lambda s: s.tron_scan_interval_s),
    JobSpec("purge_stored_responses", purge_stored_responses, every=600),
    JobSpec("sync_prices", sync_prices, every=lambda s: s.price_sync_interval_s),
    JobSpec("warn_low_balances", warn_low_balances, every=60),
    JobSpec("deliver_mail", deliver_mail, every=10),
)


def build_scheduler(
    settings: Settings, jobs: Sequence[JobSpec] = JOBS, metrics: JobMetrics | None = None
) -> BlockingScheduler:
    """The worker's scheduler with every job added (not started), each counted in `metrics` if given."""
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    start = dt.datetime.now(dt.UTC)
    for spec in jobs:
        seconds = spec.interval_s(settings)
        scheduler.add_job(
            metrics.timed(spec.id, spec.run) if metrics else spec.run,
            "interval",
            args=[settings],
            id=spec.id,
            name=spec.id,
            seconds=seconds,
            next_run_time=start,
            misfire_grace_time=max(1, int(seconds)),
        )
    return scheduler


def main() -> None:
    """Run the worker until SIGINT or SIGTERM, with its /metrics unless TOLLGATE_WORKER_METRICS_PORT is 0."""
    settings = Settings.from_env()
    logs.configure_worker(settings)
    # APScheduler logs every run at INFO; its warnings and job failures are what matter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    init_db(settings.database_url)
    metrics = WorkerMetrics(settings)
    scheduler = build_scheduler(settings, metrics=metrics.jobs)
    server = None
    if settings.worker_metrics_port:
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        server = serve_metrics(host, port, metrics.registry, settings.metrics_token)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker starting: %s", ", ".join(f"{s.id} every {s.interval_s(settings):g}s" for s in JOBS))
    scheduler.start()
    if server is not None:
        server.shutdown()
    log.info("worker stopped")


if __name__ == "__main__":
    main()
