"""Per-process balance leases: one DB hold per active user, carved up in memory per request.

See the design note in dataplane/billing.py. Everything here runs on the event loop except the
`_open`/`_grow`/... helpers, which the book runs in the DB thread pool. A per-user asyncio lock
serialises the DB work of one user; carving from a lease that has room takes no lock and no I/O
(one event loop, so the in-memory arithmetic is atomic).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shared import billing
from shared.models import Hold, User

log = logging.getLogger("tollgate.dataplane.leases")

RunDB = Callable[..., Awaitable]


@dataclass(eq=False)
class Lease:
    """One DB hold of this process for one user.

    `amount` is the DB hold minus the charges queued for settlement (which the DB will take out
    of the hold when they commit); `reserved` is what requests in flight carved out of it;
    `pending` is the sum of queued, uncommitted charges still inside the DB hold.
    """

    user_id: int
    hold_id: int
    amount: int
    valid_until: float  # monotonic: after this, carve only once the lease was renewed
    reserved: int = 0
    pending: int = 0
    last_used: float = field(default_factory=time.monotonic)
    alive: bool = True

    @property
    def free(self) -> int:
        return self.amount - self.reserved


def _balance(user_id: int) -> int:
    row = User.select(User.balance).where((User.id == user_id) & (User.status == "active")).first()
    return row.balance if row else 0


def _open(
    user_id: int, holder: str, need: int, floor: int, chunk: int, ttl_s: float
) -> tuple[int | None, int]:
    """Open a hold of a chunk, else exactly `need`, else the whole balance if it covers `floor`."""
    for amount in dict.fromkeys((max(need, chunk), need)):
        hold_id = billing.open_hold(user_id, holder, amount, ttl_s)
        if hold_id is not None:
            return hold_id, amount
    balance = _balance(user_id)
    if 0 < balance and balance >= floor:
        hold_id = billing.open_hold(user_id, holder, balance, ttl_s)
        if hold_id is not None:
            return hold_id, balance
    return None, 0


def _grow(hold_id: int, user_id: int, need: int, floor: int, chunk: int, ttl_s: float) -> tuple[int, bool]:
    """Grow a hold like `_open` opens one; returns (added, hold still active)."""
    for amount in dict.fromkeys((max(need, chunk), need)):
        if billing.grow_hold(hold_id, user_id, amount, ttl_s):
            return amount, True
    if not Hold.select().where((Hold.id == hold_id) & (Hold.state == "active")).exists():
        return 0, False
    balance = _balance(user_id)
    if 0 < balance and balance >= floor and billing.grow_hold(hold_id, user_id, balance, ttl_s):
        return balance, True
    return 0, True


def _refresh(hold_ids: list[int], ttl_s: float) -> set[int]:
    """Refresh deadlines; returns the ids that are no longer active."""
    if billing.refresh_holds(hold_ids, ttl_s) == len(hold_ids):
        return set()
    active = {h.id for h in Hold.select(Hold.id).where(Hold.id.in_(hold_ids) & (Hold.state == "active"))}
    return set(hold_ids) - active


class LeaseBook:
    """The leases of one data-plane process."""

    def __init__(self, run_db: RunDB, holder: str, chunk: int, ttl_s: float, idle_s: float) -> None:
        self._run_db = run_db
        self.holder = holder
        self.chunk = chunk
        self.ttl_s = ttl_s
        # A lease is trusted for two thirds of its ttl after the DB call that renewed it began:
        # the rest is the margin for clock skew with the worker and a slow renewal.
        self.trust_s = ttl_s * 2 / 3
        self.idle_s = idle_s
        self.leases: dict[int, Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._refreshed = time.monotonic()

    def _carve(self, lease: Lease, amount: int) -> Lease:
        lease.reserved += amount
        lease.last_used = time.monotonic()
        return lease

    async def reserve(self, user_id: int, want: int, floor: int) -> tuple[Lease | None, int]:
        """Carve between `floor` and `want` out of the user's lease; (None, 0) if `floor` is unaffordable.

        A lease past its `valid_until` (not renewed in time: the database is away, or this process
        was stalled) is renewed first; if that fails the error propagates and nothing is carved.
        """
        lease = self.leases.get(user_id)
        if lease is not None and lease.free >= want and lease.valid_until > time.monotonic():
            return self._carve(lease, want), want
        async with self._locks.setdefault(user_id, asyncio.Lock()):
            lease = self.leases.get(user_id)
            if lease is not None and lease.valid_until <= time.monotonic():
                lease = await asyncio.shield(self._renew(lease))
            if lease is None or lease.free < want:
                # Shielded: if this request is cancelled meanwhile, the DB change is still recorded.
                lease = await asyncio.shield(self._top_up(user_id, lease, want, floor))
            if lease is None or lease.free < floor:
                return None, 0
            got = min(want, lease.free)
            return self._carve(lease, got), got

    async def _renew(self, lease: Lease) -> Lease | None:
        """Push one lease's deadline forward; None (and dropped) if the worker already expired it."""
        started = time.monotonic()
        if await self._run_db(_refresh, [lease.hold_id], self.ttl_s):
            log.warning("lease %s of user %s expired under us; dropping it", lease.hold_id, lease.user_id)
            self._drop(lease)
            return None
        lease.valid_until = started + self.trust_s
        return lease

    async def _top_up(self, user_id: int, lease: Lease | None, want: int, floor: int) -> Lease | None:
        started = time.monotonic()
        if lease is not None:
            shortfall = want - lease.free
            added, alive = await self._run_db(
                _grow, lease.hold_id, user_id, shortfall, floor - lease.free, self.chunk, self.ttl_s
            )
            if alive:
                lease.amount += added
                if added:
                    lease.valid_until = started + self.trust_s
                return lease
            log.warning("lease %s of user %s expired under us; opening a new one", lease.hold_id, user_id)
            self._drop(lease)
        hold_id, amount = await self._run_db(_open, user_id, self.holder, want, floor, self.chunk, self.ttl_s)
        if hold_id is None:
            return None
        lease = Lease(user_id, hold_id, amount, started + self.trust_s)
        self.leases[user_id] = lease
        return lease

    def _drop(self, lease: Lease) -> None:
        lease.alive = False
        if self.leases.get(lease.user_id) is lease:
            del self.leases[lease.user_id]

    def finish(self, lease: Lease, held: int, charge: int) -> int:
        """A request is done: its carve-out is freed and its charge is queued against the lease.

        Returns how much of the charge the lease covers: all of it up to the carve-out, and a
        charge above the carve-out (usage beyond the hold) from the lease's free room as far as
        it goes; the settlement takes the rest from the balance, if the balance covers it.
        """
        lease.reserved -= held
        lease.last_used = time.monotonic()
        if not lease.alive:
            return charge  # the hold is gone: settlement finds that out and uses the balance
        covered = min(charge, max(lease.free, 0))
        lease.amount -= covered
        lease.pending += covered
        return covered

    def committed(self, lease: Lease, covered: int) -> None:
        """A queued charge was written (and taken out of the DB hold)."""
        lease.pending -= covered

    async def maintain(self) -> None:
        """Refresh deadlines now and then; hand idle leftovers back to the balance."""
        now = time.monotonic()
        if now - self._refreshed >= self.ttl_s / 4:
            await self._refresh()
        for lease in list(self.leases.values()):
            if lease.reserved == 0 and now - lease.last_used >= self.idle_s:
                await self._release_idle(lease)

    async def _refresh(self) -> None:
        """Push every lease's deadline forward; drop the ones the worker already expired."""
        started = self._refreshed = time.monotonic()
        ids = {lease.hold_id: lease for lease in self.leases.values()}
        if not ids:
            return
        dead = await self._run_db(_refresh, list(ids), self.ttl_s)
        for hold_id, lease in ids.items():
            if hold_id in dead:
                log.warning("lease %s expired (was this process stalled?); dropping it", hold_id)
                self._drop(lease)
            else:
                lease.valid_until = max(lease.valid_until, started + self.trust_s)

    async def _release_idle(self, lease: Lease) -> None:
        async with self._locks.setdefault(lease.user_id, asyncio.Lock()):
            if not lease.alive or lease.reserved or time.monotonic() - lease.last_used < self.idle_s:
                return
            if lease.pending == 0:
                self._drop(lease)
                await self._run_db(billing.shrink_hold, lease.hold_id, 0, True)
            elif lease.amount > 0:
                give, lease.amount = lease.amount, 0
                await self._run_db(billing.shrink_hold, lease.hold_id, give, False)

    async def close_all(self) -> None:
        """Give every lease back (at shutdown, after settlements were drained)."""
        for lease in list(self.leases.values()):
            self._drop(lease)
            if lease.pending:
                log.error(
                    "closing lease %s with %s units of charges not yet settled", lease.hold_id, lease.pending
                )
            await self._run_db(billing.shrink_hold, lease.hold_id, 0, True)
