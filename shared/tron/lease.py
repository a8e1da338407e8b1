"""A database lease: at most one holder of a name at a time, taken over once it expires.

The worker's scheduler already never overlaps a job with itself (`max_instances=1`); the lease
also keeps a second worker process (a mistaken second `tollgate worker`) from scanning at the
same time.
"""

from __future__ import annotations

import datetime as dt

from shared.db import write_transaction
from shared.models import utcnow
from shared.tron.models import Lease


def acquire(name: str, holder: str, ttl_s: float, now: dt.datetime | None = None) -> bool:
    """Take or renew the lease for `ttl_s` seconds; False if someone else holds a live one."""
    now = now or utcnow()
    until = now + dt.timedelta(seconds=ttl_s)
    with write_transaction():
        Lease.insert(name=name, holder=holder, expires_at=until).on_conflict_ignore().execute()
        taken = (
            Lease.update(holder=holder, expires_at=until)
            .where((Lease.name == name) & ((Lease.holder == holder) | (Lease.expires_at < now)))
            .execute()
        )
    return taken == 1


def release(name: str, holder: str) -> None:
    """Give the lease up if we still hold it."""
    Lease.delete().where((Lease.name == name) & (Lease.holder == holder)).execute()


def holder_of(name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds a live lease on `name`, if anyone."""
    lease = Lease.get_or_none(Lease.name == name)
    if lease is None or lease.expires_at < (now or utcnow()):
        return None
    return lease.holder
