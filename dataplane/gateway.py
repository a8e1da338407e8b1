"""The data plane's long-lived parts, created in the app's lifespan and shared by all requests.

One long-lived httpx transport (aiohttp's connection pool unless a test injects another), a thread pool
for every database call, the in-memory snapshot of models and routes, the key cache, the lease
book, the settlement writer and route health. Background tasks poll the config version about
once a second (reloading caches when it moves) and maintain leases.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from httpx_aiohttp import AiohttpTransport
from peewee import DatabaseError, InterfaceError

from dataplane.billing import Billing
from dataplane.dbthreads import DBThreads
from dataplane.health import Health
from dataplane.journal import Journal
from dataplane.keyring import Keyring
from dataplane.leases import LeaseBook
from dataplane.metrics import Metrics, StateCollector
from dataplane.ratelimit import Limiter
from dataplane.settlements import Settler
from dataplane.snapshot import Snapshot, load_snapshot
from dataplane.upstreams import make_adapters
from shared import journal
from shared.config_version import read_config_version
from shared.heartbeat import last_heartbeat
from shared.settings import Settings

log = logging.getLogger("tollgate.dataplane")

T = TypeVar("T")
DB_THREADS = 4
# Connections to all upstreams together (aiohttp's connector limit). A streamed answer holds its
# connection for its whole length, so this bounds the open streams: beyond it a request would wait
# for a free connection. 10,000 is above what one process serves (2,000 streams bench at < 250 MB).
UPSTREAM_CONNECTIONS = 10_000
JOURNAL_RECOVERY_S = 15.0


def _loaded(secret_key: Any) -> Snapshot:
    return load_snapshot(read_config_version(), secret_key)


def _polled() -> tuple[int, dt.datetime | None]:
    """The config version and the worker's last heartbeat, read in one trip to a DB thread."""
    return read_config_version(), last_heartbeat()


def default_transport() -> httpx.AsyncBaseTransport:
    """The aiohttp transport: httpx's API, aiohttp's connection pool (much faster under load)."""
    return AiohttpTransport(
        # Idle connections are dropped after 4 s: before the 5 s keep-alive of many servers closes them.
        limits=httpx.Limits(
            max_connections=UPSTREAM_CONNECTIONS,
            max_keepalive_connections=UPSTREAM_CONNECTIONS,
            keepalive_expiry=4.0,
        ),
        trust_env=False,
    )


def _report_crash(task: asyncio.Task) -> None:
    """A background task must never end quietly: caches would go stale, leases would expire."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("background task %s crashed", task.get_name(), exc_info=task.exception())


class Gateway:
    """Shared state of one data-plane process."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.holder = f"dataplane:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.db_threads = DBThreads(DB_THREADS)
        self.transport = transport or default_transport()
        self.keyring = Keyring(self.run_db)
        self.leases = LeaseBook(
            self.run_db,
            self.holder,
            settings.lease_chunk_nano,
            settings.lease_ttl_s,
            settings.lease_idle_release_s,
        )
        self.settler = Settler(self.run_db, settings.settle_flush_interval_s)
        self.limiter = Limiter(settings)
        self.journal = Journal(settings.journals, self.holder)
        self.metrics = Metrics()
        self.billing = Billing(
            settings, self.leases, self.keyring, self.settler, self.limiter, self.journal, self.metrics
        )
        self.health = Health(settings.provider_failure_threshold, settings.provider_cooldown_s)
        self.adapters = make_adapters(settings)
        self.rng = random.Random()
        self.snapshot = Snapshot(0, {}, ())
        self.loaded = False  # the catalogue was read from the database once
        self.started_at = time.time()
        self.db_checked_at = 0.0
        self.db_reachable = False
        # When the worker last beat (naive UTC), as of the last config poll; for /api/status.
        self.worker_beat: dt.datetime | None = None
        self._tasks: list[asyncio.Task] = []
        # Last: registering reads every gauge once, so all they read must exist.
        self.metrics.registry.register(
            StateCollector(
                lambda: (self.billing.in_flight, self.billing.in_flight_amount),
                self.leases, self.settler, self.health, self.limiter, self.readiness,
            )
        )  # fmt: skip

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send an upstream request; the response body is read (or streamed) by the caller.

        Straight to the transport: httpx's client layer (cookie jar, redirects, auth, default
        headers) does nothing for us here and costs about a fifth of a request's CPU time.
        """
        return await self.transport.handle_async_request(request)

    async def run_db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database function in a DB thread."""
        return await self.db_threads.run(fn, *args)

    async def start(self) -> None:
        """Recover the journals of dead data planes on this host, load caches, start the background tasks."""
        await self.recover_journals()
        self.snapshot = await self.run_db(_loaded, self.settings.secret_key)
        self.loaded = True
        self.worker_beat = await self.run_db(last_heartbeat)
        self._db_ok()
        self.settler.start()
        await self.limiter.start()
        self._tasks = [
            asyncio.create_task(self._watch_config(), name="tollgate-config"),
            asyncio.create_task(self._maintain_leases(), name="tollgate-leases"),
            asyncio.create_task(self._watch_journals(), name="tollgate-journals"),
        ]
        for task in self._tasks:
            task.add_done_callback(_report_crash)

    async def stop(self) -> None:
        """Drain settlements, give leases back, close the client and the thread pool."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.settler.close()
        await self.limiter.close()
        await self.leases.close_all()
        self.journal.close()
        await self.transport.aclose()
        await asyncio.to_thread(self.db_threads.close)

    def database_reachable(self) -> bool:
        """The database answered the last config poll, and that poll is recent."""
        checked_ago = time.monotonic() - self.db_checked_at
        return self.db_reachable and checked_ago <= max(5 * self.settings.config_poll_interval_s, 5.0)

    def readiness(self) -> dict[str, bool]:
        """Each check a load balancer's readiness probe needs to pass before sending traffic here."""
        return {
            "database": self.database_reachable(),
            "settlements": self.settler.healthy(),
            "catalogue": self.loaded,
        }

    def _db_ok(self) -> None:
        self.db_reachable = True
        self.db_checked_at = time.monotonic()

    async def reload(self) -> None:
        """Poll the config version and the worker heartbeat; reload the caches if the version moved."""
        try:
            version, self.worker_beat = await self.run_db(_polled)
            if version != self.snapshot.version:
                self.snapshot = await self.run_db(load_snapshot, version, self.settings.secret_key)
                self.keyring.clear()
            else:
                # Paused, so no charge of ours is both in the fresh `spent` and counted as ours since.
                async with self.settler.paused():
                    await self.keyring.refresh_spend()
            self._db_ok()
        except (DatabaseError, InterfaceError) as exc:
            # Serving from the caches is still right; /api/status reports the database as down.
            self.db_reachable = False
            log.warning("cannot read the config version: %s", exc)

    async def _watch_config(self) -> None:
        while True:
            await asyncio.sleep(self.settings.config_poll_interval_s)
            await self.reload()

    async def recover_journals(self) -> None:
        """Settle what data planes that died on this host left in their journals (shared/journal.py)."""
        try:
            await self.run_db(journal.recover, self.settings.journals, self.journal.stem)
        except (DatabaseError, InterfaceError) as exc:
            log.error("recovering journals failed (will retry): %s", exc)

    async def _watch_journals(self) -> None:
        while True:
            await asyncio.sleep(JOURNAL_RECOVERY_S)
            await self.recover_journals()

    async def _maintain_leases(self) -> None:
        interval = max(0.05, min(self.settings.lease_idle_release_s / 2, self.settings.lease_ttl_s / 8, 1.0))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.leases.maintain()
            except (DatabaseError, InterfaceError) as exc:
                log.error("lease maintenance failed (will retry): %s", exc)
