"""This data-plane process's request journal (the format and its recovery: shared/journal.py).

The file is memory-mapped (shared), so an append is a copy into the page cache: no system call,
and, what matters more, no release of the GIL on the event loop (a `write(2)` would hand the GIL
to a busy database thread and wait up to a switch interval to get it back, twice per request).
Pages of a shared mapping belong to the kernel's page cache: they reach the file even if the
process is killed the next instant. A record must be copied before the bytes that end a request
are sent; a record torn by a kill mid-copy is an unreadable line, skipped by recovery, which is
right: the bytes it would have vouched for were not sent either.

The journal keeps in memory the lines of every request not yet committed to the database; when
the mapped file is full it is rewritten with only those into a fresh file (a rename, so a kill
at any moment leaves the old file or the new one, both complete). Unused space is zeros.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
from pathlib import Path
from typing import Any

from shared.journal import BEGIN, CHECKPOINT, FINAL, HEADER, file_stem, line

log = logging.getLogger("tollgate.dataplane.journal")

FILE_BYTES = 16 * 1024 * 1024


class _Mapped:
    """A zero-filled file of a fixed size, mapped shared, written from the front."""

    def __init__(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self.size = size
        self.used = 0

    def fits(self, data: bytes) -> bool:
        return self.used + len(data) <= self.size

    def append(self, data: bytes) -> None:
        end = self.used + len(data)
        self.map[self.used : end] = data
        self.used = end

    def close(self) -> None:
        self.map.close()


class Journal:
    """Begin, checkpoint and final records of this process's requests, until they are committed."""

    def __init__(self, directory: Path, holder: str, file_bytes: int = FILE_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.stem = file_stem(holder)
        self.path = directory / f"{self.stem}.journal"
        self.header = line(HEADER, "", holder)
        self.file_bytes = file_bytes
        self._lock_fd = self._lock(directory)
        # request id → [begin, checkpoint, final] lines (b"" where there is none yet)
        self._live: dict[str, list[bytes]] = {}
        self._file = _Mapped(self.path, file_bytes)
        self._file.append(self.header)

    def _lock(self, directory: Path) -> int:
        """Take the lock under a temporary name first: a recoverer never sees our lock file unlocked."""
        lock = directory / f"{self.stem}.lock"
        pending = directory / f"{self.stem}.lock-new"
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(pending, lock)
        return fd

    def _record(self, request_id: str, slot: int, kind: str, payload: Any) -> None:
        data = line(kind, request_id, payload)
        lines = self._live.get(request_id)
        if lines is None:
            lines = self._live[request_id] = [b"", b"", b""]
        lines[slot] = data
        if not self._file.fits(data):
            self._compact()  # the live lines, this one included, go to a fresh file
            return
        self._file.append(data)

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
        data = self.header + b"".join(b"".join(lines) for lines in self._live.values())
        tmp = self.path.with_suffix(".journal-new")
        fresh = _Mapped(tmp, max(self.file_bytes, 2 * len(data)))
        fresh.append(data)
        os.replace(tmp, self.path)
        self._file.close()
        self._file = fresh

    def close(self) -> None:
        """At shutdown: delete the files when everything was committed, else leave them for recovery."""
        self._file.close()
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
