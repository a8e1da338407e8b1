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
        self.idle_s = idle_s
        self.leases: dict[int, Lease] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._refreshed = time.monotonic()

    def _carve(self, lease: Lease, amount: int) -> Lease:
        lease.reserved += amount
        lease.last_used = time.monotonic()
        return lease

    async def reserve(self, user_id: int, want: int, floor: int) -> tuple[Lease | None, int]:
        """Carve between `floor` and `want` out of the user's lease; (None, 0) if `floor` is unaffordable."""
        if time.monotonic() - self._refreshed > self.ttl_s / 2:
            # The loop was stalled long enough for the worker to expire leases: check before trusting them.
            await self._refresh()
        lease = self.leases.get(user_id)
        if lease is not None and lease.free >= want:
            return self._carve(lease, want), want
        async with self._locks.setdefault(user_id, asyncio.Lock()):
            lease = self.leases.get(user_id)
            if lease is None or lease.free < want:
                # Shielded: if this request is cancelled meanwhile, the DB change is still recorded.
                lease = await asyncio.shield(self._top_up(user_id, lease, want, floor))
            if lease is None or lease.free < floor:
                return None, 0
            got = min(want, lease.free)
            return self._carve(lease, got), got

    async def _top_up(self, user_id: int, lease: Lease | None, want: int, floor: int) -> Lease | None:
        if lease is not None:
            shortfall = want - lease.free
            added, alive = await self._run_db(
                _grow, lease.hold_id, user_id, shortfall, floor - lease.free, self.chunk, self.ttl_s
            )
            if alive:
                lease.amount += added
                return lease
            log.warning("lease %s of user %s expired under us; opening a new one", lease.hold_id, user_id)
            self._drop(lease)
        hold_id, amount = await self._run_db(_open, user_id, self.holder, want, floor, self.chunk, self.ttl_s)
        if hold_id is None:
            return None
        lease = Lease(user_id, hold_id, amount)
        self.leases[user_id] = lease
        return lease

    def _drop(self, lease: Lease) -> None:
        lease.alive = False
        if self.leases.get(lease.user_id) is lease:
            del self.leases[lease.user_id]

    def finish(self, lease: Lease, held: int, charge: int) -> None:
        """A request is done: its carve-out is freed and its charge is queued against the lease."""
        lease.reserved -= held
        lease.amount -= charge
        lease.pending += charge
        lease.last_used = time.monotonic()

    def committed(self, lease: Lease, charge: int) -> None:
        """A queued charge was written (and taken out of the DB hold)."""
        lease.pending -= charge

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
        self._refreshed = time.monotonic()
        ids = {lease.hold_id: lease for lease in self.leases.values()}
        if not ids:
            return
        for dead in await self._run_db(_refresh, list(ids), self.ttl_s):
            log.warning("lease %s expired (was this process stalled?); dropping it", dead)
            self._drop(ids[dead])

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
