"""The customer's dashboard: balance, spend today and this month, a daily chart, recent requests."""

from __future__ import annotations

import calendar

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from console import overview
from console.access import me
from shared.billing import held_for
from shared.money import NANO_PER_USD
from shared.reports import UsageFilter, daily_series, spend_summary, usage_query

bp = Blueprint("dashboard", __name__)

CHART_DAYS = 30
RECENT = 10


@bp.get("/")
@login_required
def index():
    """The signed-in customer's balance, spend and recent requests; operators get their overview."""
    if current_user.is_operator:
        return overview.page()
    user = me()
    series = daily_series(user.id, CHART_DAYS)
    chart = {
        "days": [calendar.timegm(p.day.timetuple()) for p in series],
        # Floats only for drawing; every amount shown as text comes from integers.
        "spend": [p.charge / NANO_PER_USD for p in series],
        "requests": [p.requests for p in series],
    }
    return render_template(
        "dashboard/index.html",
        user=user,
        held=held_for(user.id),
        summary=spend_summary(user.id),
        series=series,
        chart=chart,
        recent=list(usage_query(UsageFilter(user_id=user.id)).limit(RECENT)),
    )
