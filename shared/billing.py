"""Balances, holds, the ledger and settlement: every change of money goes through here.

Invariants (DESIGN.md §3):
- `users.balance` = Σ ledger − Σ active holds, changed in the same transaction as what moves it;
- a hold is taken with a conditional update (`balance >= amount`), never read-modify-write;
- a charge is unique on its request id (`ledger_entry.ref = "req:<id>"`, `usage_record.request_id`),
  so a retried settlement is a no-op.

All functions are synchronous and open their own transaction; the data plane calls them from a
thread pool, the console and the worker directly.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Expression,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from shared.db import MAX_IN_IDS, BaseModel, binary_chunks, db, is_postgres, write_transaction
from shared.models import ApiKey, Hold, LedgerEntry, UsageRecord, User, utcnow

_MAX_PARAMS = 30_000  # bind parameters per INSERT: below SQLite's 32,766 and PostgreSQL's 65,535
# Fields whose values both drivers bind as they are (ints, strings, bools, datetimes, None), so
# `_insert_rows` skips their db_value: a settlement's values already have the column's type.
_BOUND_AS_IS = (AutoField, BigIntegerField, BooleanField, CharField, DateTimeField, IntegerField, TextField)


class InsufficientBalance(Exception):
    """The balance cannot cover the amount asked for."""


class UnknownUser(LookupError):
    """No such user."""


def _deadline(ttl_s: float) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=ttl_s)


# --- ledger -------------------------------------------------------------------------------


def post_entry(
    user_id: int,
    amount: int,
    kind: str,
    ref: str,
    reason: str = "",
    actor_id: int | None = None,
    allow_negative: bool = False,
) -> bool:
    """Append a ledger entry and move the balance by `amount`, once per `ref`.

    Returns False (and changes nothing) when an entry with this `ref` already exists. A debit
    that would take the balance below zero raises InsufficientBalance unless `allow_negative`.
    """
    with write_transaction():
        if LedgerEntry.select().where(LedgerEntry.ref == ref).exists():
            return False
        query = User.update(balance=User.balance + amount).where(User.id == user_id)
        if amount < 0 and not allow_negative:
            query = query.where(User.balance >= -amount)
        if query.execute() != 1:
            if not User.select().where(User.id == user_id).exists():
                raise UnknownUser(user_id)
            raise InsufficientBalance(f"balance is below {-amount} units")
        LedgerEntry.create(user=user_id, amount=amount, kind=kind, ref=ref, reason=reason, actor=actor_id)
    return True


def adjust(user_id: int, amount: int, reason: str, actor_id: int | None = None) -> str:
    """An operator's credit (positive) or debit (negative) with a mandatory reason; returns its ref."""
    if not reason.strip():
        raise ValueError("an adjustment needs a reason")
    if amount == 0:
        raise ValueError("an adjustment of zero changes nothing")
    ref = f"adj:{uuid.uuid4().hex}"
    post_entry(user_id, amount, "adjustment", ref, reason=reason.strip(), actor_id=actor_id)
    return ref


# --- holds --------------------------------------------------------------------------------


def open_hold(user_id: int, holder: str, amount: int, ttl_s: float) -> int | None:
    """Set `amount` aside for requests in flight; returns the hold id, or None if unaffordable."""
    with write_transaction():
        taken = (
            User.update(balance=User.balance - amount)
            .where((User.id == user_id) & (User.balance >= amount) & (User.status == "active"))
            .execute()
        )
        if taken != 1:
            return None
        return Hold.insert(user=user_id, holder=holder, amount=amount, expires_at=_deadline(ttl_s)).execute()


def grow_hold(hold_id: int, user_id: int, amount: int, ttl_s: float) -> bool:
    """Add `amount` to an active hold if the balance covers it; False otherwise (or if it expired)."""
    try:
        with write_transaction():
            grown = (
                Hold.update(amount=Hold.amount + amount, expires_at=_deadline(ttl_s))
                .where((Hold.id == hold_id) & (Hold.state == "active"))
                .execute()
            )
            if grown != 1:
                return False
            taken = (
                User.update(balance=User.balance - amount)
                .where((User.id == user_id) & (User.balance >= amount) & (User.status == "active"))
                .execute()
            )
            if taken != 1:
                # Leaving the block by an exception rolls the hold's growth back too.
                raise _Unaffordable
    except _Unaffordable:
        return False
    return True


class _Unaffordable(Exception):
    """Internal: unwinds a transaction whose conditional debit found too little balance."""


def shrink_hold(hold_id: int, amount: int, close: bool = False) -> int:
    """Give `amount` of an active hold back to the balance (all of it when `close`).

    Returns what was returned. A hold that is no longer active returns nothing: the worker
    already gave its amount back when it expired.
    """
    with write_transaction():
        hold = Hold.select().where((Hold.id == hold_id) & (Hold.state == "active")).first()
        if hold is None:
            return 0
        give = hold.amount if close else min(amount, hold.amount)
        changes: dict = {Hold.amount: Hold.amount - give}
        if close:
            changes.update({Hold.state: "released", Hold.closed_at: utcnow()})
        Hold.update(changes).where(Hold.id == hold_id).execute()
        if give:
            User.update(balance=User.balance + give).where(User.id == hold.user_id).execute()
    return give


def refresh_holds(hold_ids: Iterable[int], ttl_s: float) -> int:
    """Push the deadline of active holds forward (the holder is alive); returns how many."""
    ids = list(hold_ids)
    if not ids:
        return 0
    deadline = _deadline(ttl_s)
    return sum(
        Hold.update(expires_at=deadline).where(Hold.id.in_(list(chunk)) & (Hold.state == "active")).execute()
        for chunk in binary_chunks(ids, MAX_IN_IDS)
    )


def _stale(now: dt.datetime) -> Expression:
    return (Hold.state == "active") & (Hold.expires_at < now)


def stale_holds(now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many active holds are past their expiry (money `expire_stale_holds` has still to give
    back), and when the longest-overdue of them expired."""
    count, oldest = (
        Hold.select(fn.COUNT(Hold.id), fn.MIN(Hold.expires_at)).where(_stale(now)).scalar(as_tuple=True)
    )
    return int(count or 0), oldest


def expire_stale_holds(now: dt.datetime | None = None) -> list[Hold]:
    """Release holds whose holder stopped refreshing them; mark them "expired" for the operator."""
    now = now or utcnow()
    expired = []
    stale = list(Hold.select().where(_stale(now)))
    for hold in stale:
        with write_transaction():
            closed = (
                Hold.update(state="expired", closed_at=now)
                .where((Hold.id == hold.id) & (Hold.state == "active"))
                .execute()
            )
            if closed != 1:
                continue
            current = Hold.get_by_id(hold.id)
            User.update(balance=User.balance + current.amount).where(User.id == hold.user_id).execute()
            expired.append(current)
    return expired


# --- settlement ---------------------------------------------------------------------------


@dataclass
class Settlement:
    """Everything known about one finished request; becomes a usage record and a charge."""

    request_id: str
    user_id: int
    hold_id: int | None
    api_key_id: int | None
    model: str
    charge: int
    cost: int = 0
    status: str = "ok"
    provider: str = ""
    upstream_model: str = ""
    endpoint: str = "chat"
    stream: bool = False
    http_status: int = 200
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    usage_source: str = "upstream"
    input_price: int = 0
    cached_input_price: int = 0
    output_price: int = 0
    multiplier_ppm: int = 1_000_000
    meters: dict[str, list[int]] | None = None  # {meter: [quantity, unit price]}
    latency_ms: int = 0
    ttft_ms: int | None = None
    error: str = ""
    client_request_id: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    # What was set aside for the request, and how much of `charge` its hold is to cover (None:
    # all of it); the rest is taken from the balance if it covers it (`settle`).
    held: int = 0
    hold_share: int | None = None
    # Filled in by `settle`: how the charge was collected.
    off_hold: int = 0
    shortfall: int = 0
    hold_lost: bool = False

    def usage_row(self) -> dict:
        """The usage_record columns."""
        # A shallow copy of the instance's dict: asdict() deep-copies every value, and even a
        # comprehension over fields() costs more, per request of every batch.
        row = dict(self.__dict__)
        row["user"] = row.pop("user_id")
        row["api_key"] = row.pop("api_key_id")
        row.pop("hold_id")
        row.pop("hold_share")
        return row

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-able values (for the data plane's journal)."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["created_at"] = self.created_at.isoformat()
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Settlement:
        """A settlement back from `to_json` (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        values["created_at"] = dt.datetime.fromisoformat(values["created_at"])
        return cls(**values)


def settle(batch: Sequence[Settlement]) -> list[str]:
    """Record a batch of finished requests in one transaction; returns the request ids newly settled.

    For each request not settled before: a usage record, and when it costs something a ledger
    charge. The charge comes out of the request's hold (so the balance does not move twice); what
    the hold does not cover (usage above the hold, or a hold the worker expired meanwhile) comes
    from the balance only as far as the balance covers it, and the rest is recorded as the
    record's `shortfall`: a balance never goes below zero. The collected charge is added to the
    key's spend. Requests already settled are skipped, which makes retries safe.
    """
    if not batch:
        return []
    with write_transaction():
        ids = [s.request_id for s in batch]
        done = _settled_already(ids)
        fresh = _unique(s for s in batch if s.request_id not in done)
        if not fresh:
            return []
        _collect([s for s in fresh if s.charge > 0])
        _insert_rows(UsageRecord, [s.usage_row() for s in fresh])
        charged = [s for s in fresh if s.charge > 0]
        if charged:
            _insert_rows(
                LedgerEntry,
                [
                    {
                        "user": s.user_id,
                        "kind": "charge",
                        "amount": -s.charge,
                        "ref": f"req:{s.request_id}",
                        "reason": s.model,
                        "created_at": s.created_at,
                    }
                    for s in charged
                ],
            )
            _add_key_spend(charged)
        _touch_keys(fresh)
    return [s.request_id for s in fresh]


def _settled_already(ids: list[str]) -> set[str]:
    """Which of these request ids already have a usage record (plain SQL: peewee's query builder
    cost more than the lookup, once per settlement batch)."""
    table, column = UsageRecord._meta.table_name, UsageRecord.request_id.column_name
    done: set[str] = set()
    for chunk in binary_chunks(ids, MAX_IN_IDS):
        marks = ", ".join([db.param] * len(chunk))
        sql = f'SELECT "{column}" FROM "{table}" WHERE "{column}" IN ({marks})'
        cursor = db.execute_sql(sql, list(chunk))
        done.update(request_id for (request_id,) in cursor.fetchall())
    return done


def _insert_rows(model: type[BaseModel], rows: list[dict]) -> None:
    """Insert rows (all with the same keys, in the same order) in a few multi-row statements.

    Same effect as `model.insert_many(rows).execute()`, about six times cheaper: peewee builds
    SQL for every value, which adds up when the data plane settles hundreds of requests at once.
    """
    names = tuple(rows[0])
    columns, converters = _columns(model, names)
    quoted = ", ".join(f'"{c}"' for c in columns)
    placeholders = "(" + ", ".join([db.param] * len(columns)) + ")"
    for chunk in binary_chunks(rows, _MAX_PARAMS // len(columns)):
        params = [
            value if convert is None else convert(value)
            for row in chunk
            for value, convert in zip(row.values(), converters, strict=True)
        ]
        values = ", ".join([placeholders] * len(chunk))
        db.execute_sql(f'INSERT INTO "{model._meta.table_name}" ({quoted}) VALUES {values}', params)


@functools.cache
def _columns(
    model: type[BaseModel], names: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]:
    """The column names of `names`, and the db_value to apply to each (None: bound as it is)."""
    fields_ = [model._meta.fields[name] for name in names]

    def converter(f: Any) -> Callable[[Any], Any] | None:
        if type(f) in _BOUND_AS_IS:
            return None
        if isinstance(f, ForeignKeyField) and type(f.rel_field) in _BOUND_AS_IS:
            return None  # given as the related id, never as a model instance
        return f.db_value

    return tuple(f.column_name for f in fields_), tuple(converter(f) for f in fields_)


def _unique(settlements: Iterable[Settlement]) -> list[Settlement]:
    seen: dict[str, Settlement] = {}
    for s in settlements:
        seen.setdefault(s.request_id, s)
    return list(seen.values())


def _collect(charged: list[Settlement]) -> None:
    """Take each charge from its hold, else from the balance as far as it covers; record how."""
    per_hold: dict[tuple[int | None, int], list[Settlement]] = defaultdict(list)
    for s in charged:
        per_hold[(s.hold_id, s.user_id)].append(s)
    for (hold_id, user_id), group in per_hold.items():
        shares = [s.charge if s.hold_share is None else min(s.hold_share, s.charge) for s in group]
        if not _take_from_hold(hold_id, sum(shares)):
            shares = [0] * len(group)
            lost = hold_id is not None and not _hold_active(hold_id)
            for s in group:
                s.hold_lost = lost
        for s, share in zip(group, shares, strict=True):
            rest = s.charge - share
            taken = _take_from_balance(user_id, rest) if rest > 0 else 0
            s.off_hold = taken
            s.shortfall += rest - taken
            s.charge = share + taken


def _take_from_hold(hold_id: int | None, amount: int) -> bool:
    if hold_id is None or amount == 0:
        return amount == 0
    taken = (
        Hold.update(amount=Hold.amount - amount)
        .where((Hold.id == hold_id) & (Hold.state == "active") & (Hold.amount >= amount))
        .execute()
    )
    return taken == 1


def _hold_active(hold_id: int) -> bool:
    return Hold.select().where((Hold.id == hold_id) & (Hold.state == "active")).exists()


def _take_from_balance(user_id: int, amount: int) -> int:
    """Take up to `amount` from the balance, never below zero; returns what was taken."""
    if (
        User.update(balance=User.balance - amount)
        .where((User.id == user_id) & (User.balance >= amount))
        .execute()
    ):
        return amount
    query = User.select(User.balance).where(User.id == user_id)
    # Inside the write transaction: SQLite holds the write lock; PostgreSQL needs the row lock.
    row = (query.for_update() if is_postgres() else query).first()
    take = min(row.balance, amount) if row is not None else 0
    if take <= 0:
        return 0
    User.update(balance=User.balance - take).where(User.id == user_id).execute()
    return take


def _add_key_spend(charged: list[Settlement]) -> None:
    per_key: dict[int, int] = defaultdict(int)
    for s in charged:
        if s.api_key_id is not None:
            per_key[s.api_key_id] += s.charge
    for key_id, amount in per_key.items():
        ApiKey.update(spent=ApiKey.spent + amount).where(ApiKey.id == key_id).execute()


def _touch_keys(fresh: list[Settlement]) -> None:
    last: dict[int, dt.datetime] = {}
    for s in fresh:
        if s.api_key_id is not None:
            last[s.api_key_id] = max(s.created_at, last.get(s.api_key_id, s.created_at))
    for key_id, when in last.items():
        ApiKey.update(last_used_at=when).where(ApiKey.id == key_id).execute()


@dataclass(frozen=True)
class Balance:
    """A user's money, told one way everywhere: `balance` is the ledger total, `held` what active
    holds (data-plane leases for requests in flight) set aside of it, `available` the rest."""

    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


def balances(users: Iterable[User]) -> dict[int, Balance]:
    """The `Balance` of each user (rows with their cached `balance`), in one query for the holds."""
    rows = list(users)
    held: dict[int, int] = {}
    ids = [u.id for u in rows]
    for start in range(0, len(ids), MAX_IN_IDS):
        query = (
            Hold.select(Hold.user, fn.SUM(Hold.amount))
            .where(Hold.user.in_(ids[start : start + MAX_IN_IDS]) & (Hold.state == "active"))
            .group_by(Hold.user)
        )
        held.update({user_id: int(total or 0) for user_id, total in query.tuples()})
    return {u.id: Balance(u.balance + held.get(u.id, 0), held.get(u.id, 0)) for u in rows}


def held_for(user_id: int) -> int:
    """What active holds set aside from this user's balance (requests in flight, data-plane leases)."""
    total = Hold.select(fn.SUM(Hold.amount)).where((Hold.user == user_id) & (Hold.state == "active")).scalar()
    return int(total or 0)


# --- checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """A user whose cached balance disagrees with Σ ledger − Σ active holds."""

    user_id: int
    stored: int
    expected: int


def reconcile() -> list[Drift]:
    """Compare every stored balance with what the ledger and active holds say it must be."""
    ledger = dict(
        LedgerEntry.select(LedgerEntry.user, fn.SUM(LedgerEntry.amount)).group_by(LedgerEntry.user).tuples()
    )
    held = dict(
        Hold.select(Hold.user, fn.SUM(Hold.amount)).where(Hold.state == "active").group_by(Hold.user).tuples()
    )
    drifts = []
    for user_id, stored in User.select(User.id, User.balance).tuples():
        expected = int(ledger.get(user_id) or 0) - int(held.get(user_id) or 0)
        if expected != stored:
            drifts.append(Drift(user_id, stored, expected))
    return drifts


@dataclass(frozen=True)
class Overdraft:
    """A user whose balance is below zero, which no path of ours may cause."""

    user_id: int
    balance: int


@dataclass(frozen=True)
class LostHoldCharges:
    """Charges of one user settled after their hold was gone (its process stalled past the lease)."""

    user_id: int
    requests: int
    collected: int
    shortfall: int


def overdrafts() -> list[Overdraft]:
    """Every user with a negative balance."""
    rows = User.select(User.id, User.balance).where(User.balance < 0).tuples()
    return [Overdraft(user_id, balance) for user_id, balance in rows]


def lost_hold_charges(since: dt.datetime) -> list[LostHoldCharges]:
    """Per user, the requests settled since `since` whose hold had been expired under them."""
    rows = (
        UsageRecord.select(
            UsageRecord.user,
            fn.COUNT(UsageRecord.id),
            fn.SUM(UsageRecord.charge),
            fn.SUM(UsageRecord.shortfall),
        )
        .where(UsageRecord.hold_lost & (UsageRecord.created_at >= since))
        .group_by(UsageRecord.user)
        .tuples()
    )
    return [LostHoldCharges(u, int(n), int(c or 0), int(s or 0)) for u, n, c, s in rows]
