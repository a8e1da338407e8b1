"""The data planes' request journals on local disk, and the recovery of a dead process's journal.

Why: a data-plane process settles requests in batches after the response went out, so a process
killed with `kill -9` would take its queued settlements, and all knowledge of the streams it had
open, with it. Each process therefore appends to its own journal file, *before* the bytes that
end a request leave it:

- `begin`: the request's billing facts (user, key, model, prices, hold), when it is admitted;
- `checkpoint`: a stream's usage and charge so far, every ~256 tokens or ~2 s of delivery;
- `final`: the settlement itself, just before the last byte is sent.

An append is a copy into a shared memory map of the file: once it is done, the bytes are the
kernel's and survive the process (not the machine; that is the cost of keeping the database off
the response path). The process holds an exclusive `flock` on `<name>.lock` for its lifetime;
the lock is the kernel's proof of life, released the instant the process dies.

Recovery (`recover`, run by the worker every few seconds and by each data plane at start-up) takes
the lock of every journal whose owner is gone and, in this order: settles each `final` (a no-op
for those already in the database: settlement is unique per request), records each request that
has no `final` as `unsettled`, billed for its last checkpoint (nothing if it had none), then
closes the dead process's holds so the rest of the held money is the customers' again. Then the
files are deleted.

Records are JSON lines `[kind, request_id, payload]`; the first line names the holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from peewee import IntegrityError

from shared import billing
from shared.models import Hold

log = logging.getLogger("tollgate.journal")

HEADER = "holder"
BEGIN = "b"
CHECKPOINT = "c"
FINAL = "f"
BATCH = 500

CUT_MESSAGE = (
    "the data-plane process stopped mid-request (killed or crashed); billed for what was delivered "
    "up to its last checkpoint"
)
NOTHING_MESSAGE = (
    "the data-plane process stopped mid-request (killed or crashed) before any output was billed"
)


def file_stem(holder: str) -> str:
    """A file name for a holder id (hostname, pid and a random part)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in holder)


def line(kind: str, request_id: str, payload: Any) -> bytes:
    """One journal record."""
    return orjson.dumps([kind, request_id, payload]) + b"\n"


@dataclass
class Entry:
    """What a journal says about one request."""

    begin: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    final: dict[str, Any] | None = None


@dataclass
class Recovered:
    """What the recovery of one dead process's journal did."""

    holder: str
    settled: int = 0  # final settlements written (that were not in the database yet)
    unsettled: int = 0  # requests cut by the death, recorded as `unsettled`
    charged: int = 0  # nano-USD charged by those two
    released: int = 0  # nano-USD of the dead process's holds given back
    request_ids: list[str] = field(default_factory=list)


def read(path: Path) -> tuple[str, dict[str, Entry]]:
    """The holder and the requests of one journal file (a torn last line is ignored)."""
    holder = ""
    entries: dict[str, Entry] = {}
    for raw in path.read_bytes().rstrip(b"\0").splitlines():
        if not raw.strip(b"\0"):
            continue
        try:
            kind, request_id, payload = orjson.loads(raw)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            log.warning("skipping an unreadable journal line in %s: %r", path, raw[:200])
            continue
        if kind == HEADER:
            holder = str(payload)
            continue
        entry = entries.setdefault(request_id, Entry())
        if kind == BEGIN:
            entry.begin = payload
        elif kind == CHECKPOINT:
            entry.checkpoint = payload
        elif kind == FINAL:
            entry.final = payload
    return holder, entries


def cut_settlement(entry: Entry) -> billing.Settlement | None:
    """The `unsettled` record of a request that has a begin but no final."""
    if entry.begin is None:
        return None
    s = billing.Settlement.from_json(entry.begin)
    s.status, s.http_status, s.usage_source = "unsettled", 0, "none"
    s.error = NOTHING_MESSAGE
    point = entry.checkpoint
    if point:
        s.prompt_tokens, s.cached_tokens, s.completion_tokens, s.reasoning_tokens = point["usage"]
        s.meters = point.get("meters")
        s.charge, s.cost = point["charge"], point["cost"]
        s.provider, s.upstream_model = point["provider"], point["upstream_model"]
        s.usage_source, s.error = "checkpoint", CUT_MESSAGE
    return s


def settlements(entries: dict[str, Entry]) -> tuple[list[billing.Settlement], list[billing.Settlement]]:
    """(the finals, the cut requests) of one journal."""
    finals = [billing.Settlement.from_json(e.final) for e in entries.values() if e.final is not None]
    cut = [s for e in entries.values() if e.final is None and (s := cut_settlement(e)) is not None]
    return finals, cut


def release_holder(holder: str) -> int:
    """Close every active hold of a holder; returns what went back to the balances."""
    ids = [h.id for h in Hold.select(Hold.id).where((Hold.holder == holder) & (Hold.state == "active"))]
    return sum(billing.shrink_hold(hold_id, 0, close=True) for hold_id in ids)


def _settle_all(batch: list[billing.Settlement]) -> tuple[set[str], int]:
    """Settle in batches; a batch the database rejects is settled one by one, a bad row skipped."""
    written: set[str] = set()
    for i in range(0, len(batch), BATCH):
        part = batch[i : i + BATCH]
        try:
            written.update(billing.settle(part))
        except IntegrityError:
            written.update(_settle_singly(part))
    return written, sum(s.charge for s in batch if s.request_id in written)


def _settle_singly(batch: list[billing.Settlement]) -> set[str]:
    written: set[str] = set()
    for s in batch:
        try:
            written.update(billing.settle([s]))
        except IntegrityError as exc:
            # E.g. its user was deleted since: nothing left to bill; say so rather than block recovery.
            log.critical("cannot settle journaled request %s (%s): %s", s.request_id, exc, s)
    return written


def replay(path: Path) -> Recovered:
    """Settle what one dead process's journal holds, then give its holds back."""
    holder, entries = read(path)
    finals, cut = settlements(entries)
    done = Recovered(holder)
    written, charged = _settle_all(finals)
    done.settled = len(written)
    cut_written, cut_charged = _settle_all(cut)
    done.unsettled = len(cut_written)
    done.charged = charged + cut_charged
    done.request_ids = sorted(written | cut_written)
    if holder:
        done.released = release_holder(holder)
    return done


@contextmanager
def _orphaned(lock_path: Path) -> Iterator[bool]:
    """Whether the journal's owner is gone; if so its lock is held by us inside the block."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


def recover(directory: Path, own: str | None = None) -> list[Recovered]:
    """Recover every journal in `directory` whose process is gone (never `own`, a live file stem)."""
    if not directory.is_dir():
        return []
    recovered = []
    for lock_path in sorted(directory.glob("*.lock")):
        if lock_path.stem == own:
            continue
        with _orphaned(lock_path) as orphaned:
            if not orphaned:
                continue
            journal = lock_path.with_suffix(".journal")
            if journal.exists():
                done = replay(journal)
                recovered.append(done)
                log.warning(
                    "recovered the journal of %s: %d settlement(s) written, %d request(s) cut short "
                    "recorded as unsettled, %s nano-USD charged, %s nano-USD of holds released",
                    done.holder or journal.name,
                    done.settled,
                    done.unsettled,
                    done.charged,
                    done.released,
                )
                journal.unlink()
            lock_path.unlink(missing_ok=True)
    return recovered
