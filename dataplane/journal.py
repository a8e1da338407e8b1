"""This data-plane process's request journal (the format and its recovery: shared/journal.py).

Appends run on the event loop: each is one `write(2)` of a short line to a file opened with
O_APPEND, a few microseconds, and it must have returned before the bytes that end a request are
sent. The journal keeps in memory the lines of every request not yet committed to the database;
when the file grows past `compact_bytes` it is rewritten with only those (a rename, so a kill
at any moment leaves the old file or the new one, both complete).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from shared.journal import BEGIN, CHECKPOINT, FINAL, HEADER, file_stem, line

log = logging.getLogger("tollgate.dataplane.journal")

COMPACT_BYTES = 8 * 1024 * 1024


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """Begin, checkpoint and final records of this process's requests, until they are committed."""

    def __init__(self, directory: Path, holder: str, compact_bytes: int = COMPACT_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.stem = file_stem(holder)
        self.path = directory / f"{self.stem}.journal"
        self.header = line(HEADER, "", holder)
        self.compact_bytes = compact_bytes
        self._lock_fd = self._lock(directory)
        self._fd = _open_append(self.path)
        self._size = 0
        # request id → [begin, checkpoint, final] lines (b"" where there is none yet)
        self._live: dict[str, list[bytes]] = {}
        self._append(self.header)

    def _lock(self, directory: Path) -> int:
        """Take the lock under a temporary name first: a recoverer never sees our lock file unlocked."""
        lock = directory / f"{self.stem}.lock"
        pending = directory / f"{self.stem}.lock-new"
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(pending, lock)
        return fd

    def _append(self, data: bytes) -> None:
        _write_all(self._fd, data)
        self._size += len(data)

    def _record(self, request_id: str, slot: int, kind: str, payload: Any) -> None:
        data = line(kind, request_id, payload)
        lines = self._live.get(request_id)
        if lines is None:
            lines = self._live[request_id] = [b"", b"", b""]
        lines[slot] = data
        self._append(data)
        if self._size > self.compact_bytes:
            self._compact()

    def begin(self, request_id: str, settlement: Any) -> None:
        """A request was admitted: what its usage record would say if it never got further.

        `settlement` is a `shared.billing.Settlement` (orjson writes dataclasses as objects)."""
        self._record(request_id, 0, BEGIN, settlement)

    def checkpoint(self, request_id: str, point: dict[str, Any]) -> None:
        """What a stream had delivered so far, and its charge."""
        self._record(request_id, 1, CHECKPOINT, point)

    def final(self, request_id: str, settlement: Any) -> None:
        """The request's settlement, before its last byte is sent."""
        self._record(request_id, 2, FINAL, settlement)

    def committed(self, request_id: str) -> None:
        """Its settlement is in the database: the journal may forget it."""
        self._live.pop(request_id, None)

    @property
    def open_requests(self) -> int:
        return len(self._live)

    def _compact(self) -> None:
        tmp = self.path.with_suffix(".journal-new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            data = self.header + b"".join(b"".join(lines) for lines in self._live.values())
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = _open_append(self.path)
        self._size = len(data)

    def close(self) -> None:
        """At shutdown: delete the files when everything was committed, else leave them for recovery."""
        os.close(self._fd)
        if self._live:
            log.critical(
                "%d request(s) are not settled in the database; %s keeps them for recovery",
                len(self._live),
                self.path,
            )
        else:
            self.path.unlink(missing_ok=True)
            (self.path.parent / f"{self.stem}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)
