"""Read-only views of usage, spend, the ledger and revenue: each a single query.

The console shows these; every function filters by user where a customer is looking, so a
customer's page can never include another customer's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import JOIN, Case, Query, fn

from shared.models import ApiKey, LedgerEntry, UsageRecord, User, utcnow

GROUPINGS = ("day", "model", "provider", "customer")
STATUSES = ("ok", "partial", "error", "unsettled")


@dataclass(frozen=True)
class UsageFilter:
    """What a usage list is narrowed to; `user_id` None means every customer (operators only)."""

    user_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    model: str = ""
    key_id: int | None = None
    customer: str = ""  # email substring, operators only
    status: str = ""  # ok | partial | error | unsettled; "" for every status


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _usage_where(flt: UsageFilter) -> list:
    where = []
    if flt.user_id is not None:
        where.append(UsageRecord.user == flt.user_id)
    if flt.date_from is not None:
        where.append(UsageRecord.created_at >= _day_start(flt.date_from))
    if flt.date_to is not None:
        where.append(UsageRecord.created_at < _day_start(flt.date_to) + dt.timedelta(days=1))
    if flt.model:
        where.append(UsageRecord.model == flt.model)
    if flt.key_id is not None:
        where.append(UsageRecord.api_key == flt.key_id)
    if flt.customer:
        where.append(User.email.contains(flt.customer.strip().lower()))
    if flt.status:
        where.append(UsageRecord.status == flt.status)
    return where


def usage_query(flt: UsageFilter) -> Query:
    """Usage records, newest first, each with its key's name and its customer's email."""
    query = (
        UsageRecord.select(UsageRecord, ApiKey.name.alias("key_name"), User.email.alias("email"))
        .join(ApiKey, JOIN.LEFT_OUTER, on=(UsageRecord.api_key == ApiKey.id))
        .switch(UsageRecord)
        .join(User, on=(UsageRecord.user == User.id))
        .order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
    )
    where = _usage_where(flt)
    if where:
        query = query.where(*where)
    return query.objects()


@dataclass(frozen=True)
class SpendSummary:
    """A customer's spend today and this month (UTC), in nano-USD, and today's request count."""

    today: int
    month: int
    requests_today: int


def spend_summary(user_id: int, now: dt.datetime | None = None) -> SpendSummary:
    """Spend since midnight and since the first of the month, in one query."""
    now = now or utcnow()
    today = _day_start(now.date())
    month = dt.datetime(now.year, now.month, 1)
    in_today = UsageRecord.created_at >= today
    row = (
        UsageRecord.select(
            fn.SUM(Case(None, [(in_today, UsageRecord.charge)], 0)),
            fn.SUM(UsageRecord.charge),
            fn.SUM(Case(None, [(in_today, 1)], 0)),
        )
        .where((UsageRecord.user == user_id) & (UsageRecord.created_at >= month))
        .tuples()
        .first()
    )
    return SpendSummary(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


@dataclass(frozen=True)
class DayPoint:
    """One day of a chart: its date, spend (nano-USD) and number of requests."""

    day: dt.date
    charge: int
    requests: int


def daily_series(user_id: int | None, days: int = 30, now: dt.datetime | None = None) -> list[DayPoint]:
    """Spend and requests per day for the last `days` days (missing days are zeros)."""
    now = now or utcnow()
    first = now.date() - dt.timedelta(days=days - 1)
    day = fn.DATE(UsageRecord.created_at)
    query = UsageRecord.select(day, fn.SUM(UsageRecord.charge), fn.COUNT(UsageRecord.id)).where(
        UsageRecord.created_at >= _day_start(first)
    )
    if user_id is not None:
        query = query.where(UsageRecord.user == user_id)
    found = {str(d)[:10]: (int(c or 0), int(n)) for d, c, n in query.group_by(day).tuples()}
    series = []
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        charge, requests = found.get(date.isoformat(), (0, 0))
        series.append(DayPoint(date, charge, requests))
    return series


def ledger_query(user_id: int) -> Query:
    """A user's ledger, newest first, each entry with the balance right after it ("running")."""
    running = fn.SUM(LedgerEntry.amount).over(order_by=[LedgerEntry.id])
    return (
        LedgerEntry.select(LedgerEntry, running.alias("running"))
        .where(LedgerEntry.user == user_id)
        .order_by(LedgerEntry.id.desc())
    )


@dataclass(frozen=True)
class Total:
    """Requests, tokens, revenue (charge), upstream cost and margin for one group of usage."""

    key: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    charge: int
    cost: int
    shortfall: int = 0  # priced but not collected: the balance could not cover it
    unsettled: int = 0  # requests cut by a data plane that died, billed to their last checkpoint
    errors: int = 0  # requests that failed (status "error")

    @property
    def margin(self) -> int:
        return self.charge - self.cost


def _group_column(by: str):  # type: ignore[no-untyped-def]
    return {
        "day": fn.DATE(UsageRecord.created_at),
        "model": UsageRecord.model,
        "provider": UsageRecord.provider,
        "customer": User.email,
        "route": UsageRecord.provider.concat(" · ").concat(UsageRecord.upstream_model),
    }[by]


def totals(flt: UsageFilter, by: str | None) -> list[Total]:
    """Usage summed per day, model, provider, customer or route (`by`), or one grand total (None)."""
    sums = [
        fn.COUNT(UsageRecord.id),
        fn.SUM(UsageRecord.prompt_tokens),
        fn.SUM(UsageRecord.completion_tokens),
        fn.SUM(UsageRecord.charge),
        fn.SUM(UsageRecord.cost),
        fn.SUM(UsageRecord.shortfall),
        fn.SUM(Case(None, [(UsageRecord.status == "unsettled", 1)], 0)),
        fn.SUM(Case(None, [(UsageRecord.status == "error", 1)], 0)),
    ]
    column = _group_column(by) if by else None
    query = UsageRecord.select(*([column] if column is not None else []), *sums).join(
        User, on=(UsageRecord.user == User.id)
    )
    where = _usage_where(flt)
    if where:
        query = query.where(*where)
    if column is not None:
        query = query.group_by(column).order_by(fn.SUM(UsageRecord.charge).desc(), column)
    rows = []
    for row in query.tuples():
        key = str(row[0])[:10] if by == "day" else str(row[0]) if by else "all"
        values = row[1:] if by else row
        rows.append(Total(key, *(int(v or 0) for v in values)))
    if by == "day":
        rows.sort(key=lambda t: t.key, reverse=True)
    return rows


def daily_totals(days: int, now: dt.datetime | None = None) -> list[Total]:
    """Every customer's usage summed per day for the last `days` days, oldest first (missing
    days are zeros); each `Total.key` is the day's ISO date."""
    now = now or utcnow()
    first = now.date() - dt.timedelta(days=days - 1)
    found = {t.key: t for t in totals(UsageFilter(date_from=first), "day")}
    dates = [(first + dt.timedelta(days=offset)).isoformat() for offset in range(days)]
    return [found.get(day, Total(day, 0, 0, 0, 0, 0)) for day in dates]
