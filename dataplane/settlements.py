"""Group commit of finished requests: one transaction per batch, in the DB thread pool.

Requests enqueue a `Settlement` and go on; a single writer task wakes up, waits a few
milliseconds for company (`settle_flush_interval_s`), and writes everything queued with
`shared.billing.settle` in one transaction. A batch that fails because the database is away is
retried with backoff, never dropped. A batch the database rejects is split so that one bad row
cannot hold up the others; a row that still fails is parked (logged as critical, its lease
keeps covering the money) and tried again at shutdown. `close()` drains the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from peewee import DatabaseError, InterfaceError, OperationalError

from shared import billing

log = logging.getLogger("tollgate.dataplane.settlements")

MAX_BATCH = 500
MAX_BACKOFF_S = 5.0
# A queued settlement older than this means the writer is stuck (the database is away): not ready.
STUCK_AFTER_S = 30.0

RunDB = Callable[..., Awaitable]
# A settlement, what to run once it is committed, and when it was queued (monotonic).
Item = tuple[billing.Settlement, Callable[[], None], float]


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical(
            "the settlement writer crashed; requests are no longer settled", exc_info=task.exception()
        )


class Settler:
    """The settlement queue and its writer task."""

    def __init__(self, run_db: RunDB, flush_interval_s: float, drain_timeout_s: float = 30.0) -> None:
        self._run_db = run_db
        self._flush_interval_s = flush_interval_s
        self._drain_timeout_s = drain_timeout_s
        self._items: list[Item] = []
        self._batch: list[Item] = []  # the batch being written
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._writing = asyncio.Lock()
        self.written = 0
        self.parked: list[Item] = []

    def start(self) -> None:
        """Start the writer task (inside the running loop)."""
        self._task = asyncio.create_task(self._run(), name="tollgate-settler")
        self._task.add_done_callback(_report_crash)

    def put(self, settlement: billing.Settlement, after: Callable[[], None]) -> None:
        """Queue a finished request; `after` runs on the loop once it is committed."""
        self._items.append((settlement, after, time.monotonic()))
        self._wake.set()

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No batch is being written, nor its `after` callbacks half run, while inside."""
        async with self._writing:
            yield

    @property
    def queued(self) -> int:
        return len(self._items)

    @property
    def unwritten(self) -> int:
        """Settlements queued or being written, not yet committed."""
        return len(self._items) + len(self._batch)

    def oldest_age_s(self) -> float:
        """How long the oldest unwritten settlement has waited (0 when there is none)."""
        oldest = self._batch or self._items
        return time.monotonic() - oldest[0][2] if oldest else 0.0

    def healthy(self) -> bool:
        """The writer runs and nothing waited longer than STUCK_AFTER_S."""
        running = self._task is not None and not self._task.done()
        return running and self.oldest_age_s() < STUCK_AFTER_S

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._flush_interval_s > 0 and not self._closing:
                await asyncio.sleep(self._flush_interval_s)
            while self._items:
                batch, self._items = self._items[:MAX_BATCH], self._items[MAX_BATCH:]
                async with self._writing:
                    self._batch = batch
                    try:
                        await self._commit(batch)
                    finally:
                        self._batch = []
                if len(batch) < MAX_BATCH and not self._closing:
                    # What came in while this batch was written waits for the next gathering (its
                    # put() set the wake-up): written at once, under steady traffic every commit
                    # carried the one to five requests of the commit before, never a full interval's.
                    break
            if self._closing and not self._items:
                return

    async def _commit(self, batch: list[Item]) -> None:
        delay = 0.05
        while True:
            try:
                await self._run_db(billing.settle, [item[0] for item in batch])
                break
            except (OperationalError, InterfaceError) as exc:
                # The database is unreachable or busy: wait and try the same batch again.
                log.error("settling %d request(s) failed, retrying in %.2fs: %s", len(batch), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
            except DatabaseError as exc:
                # Something in the rows themselves: isolate it so the others still get written.
                if len(batch) == 1:
                    log.critical(
                        "cannot settle request %s, keeping it for a retry at shutdown: %s",
                        batch[0][0].request_id,
                        exc,
                    )
                    self.parked.append(batch[0])
                    return
                for item in batch:
                    await self._commit([item])
                return
        self.written += len(batch)
        for _, after, _ in batch:
            after()

    async def close(self) -> None:
        """Write everything still queued, then stop the writer."""
        self._closing = True
        self._items.extend(self.parked)
        self.parked = []
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._drain_timeout_s)
        except TimeoutError:
            unsettled = [item[0].request_id for item in self._items]
            log.critical("shutting down with %d unsettled request(s): %s", len(unsettled), unsettled)
            self._task.cancel()
