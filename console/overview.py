"""Operator: the overview, the operator's home. Revenue, cost and margin per day over 7, 30 or
90 days; traffic by provider and route; top customers; deposits; worker and scanner health;
unsettled requests; customers with a low balance."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, request

from console.access import operator_required
from console.charts import Series, bar_chart
from shared import overview
from shared.models import utcnow
from shared.reports import Total, UsageFilter, daily_totals, totals

bp = Blueprint("overview", __name__, url_prefix="/operator/overview")

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
TOP_ROWS = 10


def period_days(raw: str | None) -> int:
    """The period asked for in ?days=, if it is one of PERIODS, else the default."""
    return int(raw) if raw in {str(p) for p in PERIODS} else DEFAULT_PERIOD


def _charts(daily: list[Total]) -> dict:
    labels = [t.key for t in daily]
    money = bar_chart(
        labels,
        [
            Series("Revenue", [t.charge for t in daily], "s-revenue"),
            Series("Cost", [t.cost for t in daily], "s-cost"),
        ],
        Series("Margin", [t.margin for t in daily], "s-margin"),
    )
    traffic = bar_chart(
        labels,
        [
            Series("Requests", [t.requests for t in daily], "s-requests"),
            Series("Errors", [t.errors for t in daily], "s-errors"),
        ],
        money=False,
    )
    return {"money": money, "traffic": traffic}


@bp.get("")
@operator_required
def index():
    """The gateway at a glance for the chosen period."""
    return page()


def page() -> str:
    """The overview page (also the operator's home, "/")."""
    days = period_days(request.args.get("days"))
    now = utcnow()
    first = now.date() - dt.timedelta(days=days - 1)
    flt = UsageFilter(date_from=first)
    daily = daily_totals(days, now)
    return render_template(
        "overview/index.html",
        days=days,
        periods=PERIODS,
        first=first,
        grand=totals(flt, None)[0],
        daily=daily,
        charts=_charts(daily),
        providers=totals(flt, "provider"),
        routes=totals(flt, "route")[: TOP_ROWS * 2],
        customers=totals(flt, "customer")[:TOP_ROWS],
        deposits=overview.deposits_since(now - dt.timedelta(hours=24)),
        problems=overview.problem_deposits(),
        pending=overview.pending_deposits(),
        health=overview.health(current_app.config["TOLLGATE"].secret_key, now),
        unsettled=overview.unsettled_since(dt.datetime(first.year, first.month, first.day)),
        low=overview.low_balances(),
    )
