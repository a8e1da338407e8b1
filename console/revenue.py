"""Operator: every request with filters, totals by day/model/provider/customer, and margin."""

from __future__ import annotations

from flask import Blueprint, request

from console.access import operator_required
from console.htmx import render_page
from console.usage import csv_response, filter_args, filter_from_args
from shared.pagination import page_number, paginate
from shared.reports import GROUPINGS, totals, usage_query

bp = Blueprint("revenue", __name__, url_prefix="/operator/usage")


@bp.get("")
@operator_required
def index():
    """All usage, filtered, with a grand total and totals grouped as chosen."""
    flt = filter_from_args(request.args, None, operator=True)
    by = request.args.get("by") if request.args.get("by") in GROUPINGS else "day"
    page = paginate(usage_query(flt), page_number(request.args.get("page")))
    grand = totals(flt, None)
    return render_page(
        "revenue/index.html", "revenue/_body.html", page=page, flt=flt, by=by, groupings=GROUPINGS,
        grand=grand[0] if grand else None, grouped=totals(flt, by)[:100],
        args={**filter_args(request.args), "by": by}, endpoint="revenue.index", show_customer=True,
    )  # fmt: skip


@bp.get("/export.csv")
@operator_required
def export():
    """Every matching request as CSV."""
    return csv_response(usage_query(filter_from_args(request.args, None, operator=True)), "usage-all.csv")
