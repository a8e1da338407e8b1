"""Billing: the customer's ledger (deposits, charges, adjustments) with a running balance."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import login_required

from console.access import me
from console.htmx import render_page
from shared.billing import held_for
from shared.pagination import page_number, paginate
from shared.reports import ledger_query

bp = Blueprint("billing", __name__, url_prefix="/billing")


@bp.get("")
@login_required
def index():
    """The ledger, newest first, each entry with the balance after it."""
    user = me()
    page = paginate(ledger_query(user.id), page_number(request.args.get("page")))
    return render_page(
        "billing/index.html", "billing/_ledger.html", user=user, held=held_for(user.id), page=page
    )
