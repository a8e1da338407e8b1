"""The data plane's database threads: every peewee call runs here, never on the event loop.

Each thread keeps its own connection open between calls (opening and closing one per call
costs more than a whole settlement batch: SQLite checkpoints its WAL when the last connection
closes). A call that fails on a connection error closes that thread's connection so the next
call reconnects. `close()` closes the connection of every thread, then stops them.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from peewee import InterfaceError, OperationalError

from shared.db import db

T = TypeVar("T")


def _call(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except (OperationalError, InterfaceError):
        _close_connection()
        raise


def _close_connection() -> None:
    if not db.is_closed():
        try:
            db.close()
        except (OperationalError, InterfaceError):
            pass  # The connection is already broken; dropping it is all we wanted.


def _close_and_wait(barrier: threading.Barrier) -> None:
    _close_connection()
    barrier.wait()


class DBThreads:
    """A small pool of threads with one database connection each."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tollgate-db")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database function in one of the threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(_call, fn, *args))

    def close(self) -> None:
        """Close every thread's connection and stop the threads (blocking)."""
        # Each task waits at the barrier until all have arrived, so each runs on its own thread.
        barrier = threading.Barrier(self.size, timeout=30)
        futures = [self._executor.submit(_close_and_wait, barrier) for _ in range(self.size)]
        for future in futures:
            future.result()
        self._executor.shutdown(wait=True)
