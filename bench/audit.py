"""After the load: does the database bill exactly what the gateway served?

The gateway settles asynchronously in batches, so the audit first waits for the usage records to
catch up with the number of completions the fake upstream served to the gateway (counted by the
provider key it forwards). wrk's own count is a lower bound: when a run's time is up, wrk drops
the requests still in flight, which the gateway has usually already relayed (and must bill).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from peewee import fn

from bench.seed import Seeded
from shared.billing import reconcile
from shared.db import db, init_db
from shared.models import Hold, LedgerEntry, UsageRecord, User

DRAIN_TIMEOUT_S = 30.0
DRAIN_STABLE_S = 5.0


@dataclass(frozen=True)
class Audit:
    """Counts and sums from the database, next to what the clients and the upstream saw."""

    wrk_ok: int
    cut_bound: int
    upstream_calls: int
    records: int
    ok_records: int
    charges: int
    charged: int
    record_charges: int
    balance: int
    held: int
    expected_balance: int
    drifts: int
    per_request: int
    mispriced: int

    @property
    def counts_exact(self) -> bool:
        """One usage record and one charge per relayed request, and wrk's successes all among them."""
        return (
            self.records == self.upstream_calls == self.charges
            and self.wrk_ok <= self.records <= self.wrk_ok + self.cut_bound
        )

    @property
    def balance_exact(self) -> bool:
        """Balance = start − Σ charges, ledger and usage agree, every complete answer at the known price."""
        return (
            self.balance == self.expected_balance
            and self.charged == self.record_charges
            and self.mispriced == 0
            and self.drifts == 0
        )

    def line(self) -> str:
        """The one-line verdict the report prints."""
        extra = self.wrk_ok and self.records - self.wrk_ok
        text = (
            f"billing: {self.wrk_ok} answered OK to the clients, {self.upstream_calls} relayed upstream, "
            f"{self.records} usage records ({self.ok_records} ok), {self.charges} charges, "
            f"balance exact: {'yes' if self.balance_exact else 'no'}"
        )
        if extra:
            text += (
                f"; {extra} of the records are requests wrk cut at the end of a run (bound {self.cut_bound})"
            )
        if not self.counts_exact:
            text += "; COUNTS DO NOT MATCH"
        if not self.balance_exact:
            text += (
                f"; balance {self.balance} expected {self.expected_balance}, held {self.held}, "
                f"ledger charges {self.charged}, usage charges {self.record_charges}, "
                f"{self.mispriced} ok records not charged {self.per_request}, drifting users {self.drifts}"
            )
        return text


def usage_count(database_url: str) -> int:
    """How many usage records the gateway has committed so far."""
    init_db(database_url)
    try:
        return UsageRecord.select().count()
    finally:
        db.close()


def wait_for_settlement(database_url: str, relayed: Callable[[], int]) -> int:
    """Wait until the usage records reach the relayed count (or stop growing); returns the count."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count, target = usage_count(database_url), relayed()
        if count >= target:
            return count
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since > DRAIN_STABLE_S:
            return count
        time.sleep(0.25)
    return last


def audit(seeded: Seeded, wrk_ok: int, cut_bound: int, upstream_calls: int) -> Audit:
    """Read the final state of the database (after the gateway stopped)."""
    init_db(seeded.database_url)
    try:
        records = UsageRecord.select().count()
        ok_records = UsageRecord.select().where(UsageRecord.status == "ok").count()
        mispriced = (
            UsageRecord.select()
            .where((UsageRecord.status == "ok") & (UsageRecord.charge != seeded.charge_per_request))
            .count()
        )
        record_charges = UsageRecord.select(fn.COALESCE(fn.SUM(UsageRecord.charge), 0)).scalar()
        charge_rows = LedgerEntry.select().where(LedgerEntry.kind == "charge")
        charged = -(charge_rows.select(fn.COALESCE(fn.SUM(LedgerEntry.amount), 0)).scalar())
        held = Hold.select(fn.COALESCE(fn.SUM(Hold.amount), 0)).where(Hold.state == "active").scalar()
        return Audit(
            wrk_ok=wrk_ok,
            cut_bound=cut_bound,
            upstream_calls=upstream_calls,
            records=records,
            ok_records=ok_records,
            charges=charge_rows.count(),
            charged=int(charged),
            record_charges=int(record_charges),
            balance=User.get_by_id(seeded.user_id).balance,
            held=int(held),
            expected_balance=seeded.start_balance - int(charged),
            drifts=len(reconcile()),
            per_request=seeded.charge_per_request,
            mispriced=mispriced,
        )
    finally:
        db.close()
