"""The worker's Prometheus metrics, served by its `/metrics` (shared/metrics_server.py).

Job runs are counted as they happen (`JobMetrics.timed` wraps each scheduled job). Everything else
is read from the database when Prometheus scrapes (`DatabaseCollector`), so the numbers are the
database's own, whichever process moved them: the deposit scanner's state (its lag behind the
solid head, its last success, its failures), active holds past their expiry (money the
`expire_stale_holds` job has still to give back) and the mail outbox.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from peewee import DatabaseError, InterfaceError
from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared import billing, outbox, overview
from shared.db import db
from shared.models import utcnow
from shared.settings import Secret, Settings
from shared.vault import VaultError

# Jobs take milliseconds (the heartbeat) to minutes (a price sync over slow sources).
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

Job = Callable[[Settings], object]


class JobMetrics:
    """Runs, failures and durations of the worker's jobs, labelled by job id."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "tollgate_worker_job_runs", "Job runs, failed or not.", ("job",), registry=registry
        )
        self.failures = Counter(
            "tollgate_worker_job_failures", "Job runs that raised an exception.", ("job",), registry=registry
        )
        self.duration = Histogram(
            "tollgate_worker_job_duration_seconds",
            "How long each job run took.",
            ("job",),
            buckets=JOB_BUCKETS,
            registry=registry,
        )

    def timed(self, job: str, run: Job) -> Job:
        """`run`, counted and timed under the label `job`; its exceptions pass on to the scheduler."""
        runs, failures, duration = self.runs.labels(job), self.failures.labels(job), self.duration.labels(job)

        def timed_run(settings: Settings) -> object:
            started = time.perf_counter()
            try:
                return run(settings)
            except Exception:
                failures.inc()
                raise
            finally:
                runs.inc()
                duration.observe(time.perf_counter() - started)

        timed_run.__name__ = getattr(run, "__name__", job)
        return timed_run


@dataclass(frozen=True, eq=False)
class DatabaseCollector(Collector):
    """Gauges and totals read from the database at scrape time (its own connection, then closed)."""

    secret_key: Secret
    clock: Callable[[], dt.datetime] = utcnow  # naive UTC, as the database keeps times

    def collect(self) -> Iterator[Metric]:
        """Every database-backed metric; only `tollgate_worker_database_up 0` when it does not answer."""
        now = self.clock()
        try:
            with db.connection_context():
                stale, overdue_since = billing.stale_holds(now)
                mail = outbox.backlog()
                try:
                    health: overview.Health | None = overview.health(self.secret_key, now)
                except VaultError:
                    health = None  # the TRON API key cannot be decrypted: the scanner cannot run either
        except (DatabaseError, InterfaceError):
            yield _gauge("tollgate_worker_database_up", "Whether the database answered this scrape.", 0)
            return
        yield _gauge("tollgate_worker_database_up", "Whether the database answered this scrape.", 1)
        yield _gauge("tollgate_holds_stale", "Active holds past their expiry, not yet released.", stale)
        yield _gauge(
            "tollgate_holds_stale_oldest_age_seconds",
            "How long ago the longest-overdue active hold expired (0: none).",
            _age(now, overdue_since),
        )
        yield _gauge("tollgate_mail_queued", "Mail in the outbox still to be sent.", mail.queued)
        yield _gauge(
            "tollgate_mail_queued_oldest_age_seconds",
            "How long the oldest queued mail has waited (0: none).",
            _age(now, mail.oldest_queued),
        )
        yield _gauge(
            "tollgate_mail_given_up", "Unsent mail no longer tried (attempts used up).", mail.given_up
        )
        if health is not None:
            yield from _scanner(health)


def _per_network(name: str, documentation: str, network: str, value: float) -> GaugeMetricFamily:
    """One gauge of the deposit scanner, labelled with its network."""
    gauge = GaugeMetricFamily(name, documentation, labels=("network",))
    gauge.add_metric((network,), value)
    return gauge


def _scanner(health: overview.Health) -> Iterator[Metric]:
    network, state = health.network, health.scanner
    yield _per_network(
        "tollgate_deposit_scanner_configured",
        "Whether TRON deposits are configured.",
        network,
        int(health.scanner_configured),
    )
    if health.scanner_lag is not None:
        yield _per_network(
            "tollgate_deposit_scanner_lag_blocks",
            "Solid blocks the scanner has still to read (solid head last seen minus its cursor).",
            network,
            health.scanner_lag,
        )
    if state.last_ok:
        yield _per_network(
            "tollgate_deposit_scanner_last_success_timestamp_seconds",
            "When a scanner run last finished without a node error (Unix time).",
            network,
            dt.datetime.fromisoformat(state.last_ok).replace(tzinfo=dt.UTC).timestamp(),
        )
    yield _per_network(
        "tollgate_deposit_scanner_consecutive_failures",
        "Scanner runs failed in a row (0 after a success).",
        network,
        state.failures,
    )
    errors = CounterMetricFamily(
        "tollgate_deposit_scanner_errors", "Scanner runs that failed on a node error.", labels=("network",)
    )
    errors.add_metric((network,), state.total_failures)
    yield errors


class WorkerMetrics:
    """The worker process's registry: process and platform facts, job counters, the database's gauges."""

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.jobs = JobMetrics(self.registry)
        self.registry.register(DatabaseCollector(settings.secret_key, clock))


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
