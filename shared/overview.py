"""What the operator's overview shows besides usage totals (shared/reports.py): deposits, the
worker's and the TRON scanner's health, unsettled requests and customers with a low balance.

Every amount is an integer from the ledger or the usage records; the console formats it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import Case, fn

from shared import site
from shared.billing import balances
from shared.heartbeat import STALE_AFTER_S, last_heartbeat
from shared.models import LedgerEntry, UsageRecord, User, utcnow
from shared.notices import NoticePreference, threshold_of
from shared.settings import Secret
from shared.tron import config as tron_config
from shared.tron.models import TronDeposit, TronPending
from shared.tron.state import ScannerState, load_state

PROBLEM_STATUSES = ("below_minimum", "rejected", "manual_review")
LIST_ROWS = 10


@dataclass(frozen=True)
class Deposits:
    """Deposits credited to the ledger since a time, by any payment method."""

    count: int
    total: int
    recent: list[LedgerEntry]


def deposits_since(since: dt.datetime) -> Deposits:
    """The ledger's deposit entries since `since`: how many, their sum, the newest few."""
    where = (LedgerEntry.kind == "deposit") & (LedgerEntry.created_at >= since)
    count, total = (
        LedgerEntry.select(fn.COUNT(LedgerEntry.id), fn.SUM(LedgerEntry.amount))
        .where(where)
        .scalar(as_tuple=True)
    )
    recent = (
        LedgerEntry.select(LedgerEntry, User.email.alias("email"))
        .join(User, on=(LedgerEntry.user == User.id))
        .where(where)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(LIST_ROWS)
        .objects()
    )
    return Deposits(int(count or 0), int(total or 0), list(recent))


def problem_deposits(limit: int = LIST_ROWS) -> list[TronDeposit]:
    """Deposits that were not credited (below the minimum, rejected, waiting for review)."""
    query = TronDeposit.select(TronDeposit, User).join(User).where(TronDeposit.status.in_(PROBLEM_STATUSES))
    return list(query.order_by(TronDeposit.created_at.desc()).limit(limit))


def pending_deposits(limit: int = LIST_ROWS) -> list[TronPending]:
    """Transfers seen on chain that are not solid yet (never credited before they are)."""
    query = TronPending.select(TronPending, User).join(User)
    return list(query.order_by(TronPending.seen_at.desc()).limit(limit))


@dataclass(frozen=True)
class Health:
    """The worker's last heartbeat and the TRON scanner's state."""

    worker_seen: dt.datetime | None
    worker_alive: bool
    scanner_configured: bool
    network: str
    scanner: ScannerState

    @property
    def scanner_lag(self) -> int | None:
        """Solid blocks the scanner has still to read (None before its first run)."""
        if self.scanner.cursor is None or not self.scanner.solid_seen:
            return None
        return max(0, self.scanner.solid_seen - self.scanner.cursor)


def health(secret_key: Secret, now: dt.datetime | None = None) -> Health:
    """How the worker and the deposit scanner are doing."""
    now = now or utcnow()
    beat = last_heartbeat()
    alive = beat is not None and (now - beat).total_seconds() <= STALE_AFTER_S
    config = tron_config.load(secret_key)
    return Health(beat, alive, config.ready, config.network, load_state(config.network))


@dataclass(frozen=True)
class Unsettled:
    """Requests in a period whose charge was not collected in full, and why."""

    unsettled: int  # cut by a data plane that died: billed to their last checkpoint
    hold_lost: int  # settled after their hold was released under them
    shortfall: int  # nano-USD priced but not collected


def unsettled_since(since: dt.datetime) -> Unsettled:
    """Counts and the uncollected sum of the period's incompletely settled requests."""
    row = (
        UsageRecord.select(
            fn.SUM(Case(None, [(UsageRecord.status == "unsettled", 1)], 0)),
            fn.SUM(Case(None, [(UsageRecord.hold_lost, 1)], 0)),
            fn.SUM(UsageRecord.shortfall),
        )
        .where(UsageRecord.created_at >= since)
        .tuples()
        .first()
    )
    return Unsettled(*(int(v or 0) for v in row))


@dataclass(frozen=True)
class LowBalance:
    """A customer whose balance is below their low-balance threshold."""

    user: User
    balance: int
    threshold: int


def low_balances(limit: int = 20) -> list[LowBalance]:
    """Active customers with ledger history below their threshold, lowest balance first."""
    default = site.low_balance_default()
    known = LedgerEntry.select(LedgerEntry.user).distinct()
    prefs = {p.user_id: p for p in NoticePreference.select().where(NoticePreference.user.in_(known))}
    highest = max([default, *(threshold_of(p, default) for p in prefs.values())])
    users = list(
        User.select()
        .where((User.role == "customer") & (User.status == "active") & User.id.in_(known))
        .where(User.balance < highest)
        .order_by(User.balance, User.id)
    )
    money = balances(users)
    rows = [LowBalance(u, money[u.id].balance, threshold_of(prefs.get(u.id), default)) for u in users]
    return [r for r in rows if r.balance < r.threshold][:limit]
