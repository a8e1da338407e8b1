"""API keys in memory, and each key's spend against its cap.

Keys are looked up by hash on first use (in the DB thread pool), then served from memory.
Unknown hashes are remembered briefly too, so a client hammering a bad key costs one query a
second, not one per request. The whole cache is dropped whenever the config version moves
(revocation, disabled users, new caps), which the gateway checks about once a second.

Spend caps: a key may spend `spend_cap`. What it has spent is the DB's `spent` at the last read,
plus what this process committed since (minus what was already committed at that read), plus
charges queued for settlement, plus holds of requests in flight. The estimate can run high,
never low: a charge of ours committed while a key is first loaded counts twice until the next
poll. `spent` of capped keys is read again at every config poll (with settlement paused, so
exactly), so what other data-plane processes charged counts here within about a second; their
requests still in flight do not, so with several processes a cap can be passed by what those
few requests cost.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from dataplane.snapshot import KeyInfo, load_key, load_spent
from shared.keys import hash_key

UNKNOWN_TTL_S = 1.0
MAX_UNKNOWN = 10_000  # remembered unknown hashes; a flood of random keys cannot grow memory further

RunDB = Callable[..., Awaitable]


@dataclass(frozen=True)
class CachedKey:
    """A key as loaded, with this process's committed spend at the moment it was loaded."""

    info: KeyInfo | None
    committed_mark: int
    loaded_at: float


class Keyring:
    """The key cache and per-key spend accounting of one data-plane process."""

    def __init__(self, run_db: RunDB) -> None:
        self._run_db = run_db
        self._cache: dict[str, CachedKey] = {}
        self._unknown: dict[str, CachedKey] = {}
        self._committed: defaultdict[int, int] = defaultdict(int)
        self._outstanding: defaultdict[int, int] = defaultdict(int)

    def clear(self) -> None:
        """Forget every cached key (the config changed)."""
        self._cache.clear()
        self._unknown.clear()

    async def lookup(self, secret: str) -> CachedKey:
        """The cached entry for a key secret, loading it from the database on a miss."""
        key_hash = hash_key(secret)
        entry = self._cache.get(key_hash)
        if entry is not None:
            return entry
        now = time.monotonic()
        entry = self._unknown.get(key_hash)
        if entry is not None and now - entry.loaded_at < UNKNOWN_TTL_S:
            return entry
        # Snapshot our committed totals before the read: a commit that lands in between is then
        # counted twice (safe), never missed.
        marks = dict(self._committed)
        info = await self._run_db(load_key, key_hash)
        if info is None:
            if len(self._unknown) >= MAX_UNKNOWN:
                self._unknown.clear()
            entry = self._unknown[key_hash] = CachedKey(None, 0, now)
            return entry
        entry = self._cache[key_hash] = CachedKey(info, marks.get(info.id, 0), now)
        return entry

    async def refresh_spend(self) -> None:
        """Read again what each cached key with a spend cap has spent (charges by other processes).

        Call it while the settler is paused: a charge of ours committed during the read would
        otherwise count twice (in `spent` and since the mark) until the next refresh.
        """
        capped = {h: e for h, e in self._cache.items() if e.info is not None and e.info.spend_cap is not None}
        if not capped:
            return
        marks = dict(self._committed)
        spent = await self._run_db(load_spent, [e.info.id for e in capped.values() if e.info])
        for key_hash, entry in capped.items():
            info = entry.info
            # Skip entries dropped or reloaded while we were reading.
            if info is None or self._cache.get(key_hash) is not entry or info.id not in spent:
                continue
            fresh = replace(info, spent=spent[info.id])
            self._cache[key_hash] = CachedKey(fresh, marks.get(info.id, 0), entry.loaded_at)

    def room(self, entry: CachedKey) -> int | None:
        """How much more the key may spend (None: no cap)."""
        info = entry.info
        if info is None or info.spend_cap is None:
            return None
        committed_since = self._committed[info.id] - entry.committed_mark
        return info.spend_cap - info.spent - committed_since - self._outstanding[info.id]

    def hold(self, key_id: int, amount: int) -> None:
        """A request of this key holds `amount` while it runs."""
        self._outstanding[key_id] += amount

    def finish(self, key_id: int, held: int, charge: int) -> None:
        """The request is done: its hold is replaced by its (queued) charge."""
        self._outstanding[key_id] += charge - held

    def committed(self, key_id: int, charge: int) -> None:
        """A queued charge was written to the database."""
        self._outstanding[key_id] -= charge
        self._committed[key_id] += charge
