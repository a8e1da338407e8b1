"""The customer's per-request usage log: filters, pagination and CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

from flask import Blueprint, Response, flash, request, stream_with_context
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from console.access import me
from console.filters import usd_plain
from console.htmx import render_page
from shared.models import ApiKey, UsageRecord
from shared.pagination import page_number, paginate
from shared.reports import STATUSES, UsageFilter, usage_query

bp = Blueprint("usage", __name__, url_prefix="/usage")

CSV_COLUMNS = [
    "time_utc", "request_id", "customer", "key", "model", "provider", "endpoint", "status", "http_status",
    "prompt_tokens", "cached_tokens", "completion_tokens", "charge_usd", "latency_ms",
]  # fmt: skip


def _date(args: MultiDict, name: str) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        flash(f"Ignored {name.replace('_', ' ')} {raw!r}: use YYYY-MM-DD.", "error")
        return None


def filter_from_args(args: MultiDict, user_id: int | None, operator: bool = False) -> UsageFilter:
    """Read the usage filters of a query string; customers are always limited to `user_id`."""
    key = (args.get("key") or "").strip()
    return UsageFilter(
        user_id=user_id,
        date_from=_date(args, "date_from"),
        date_to=_date(args, "date_to"),
        model=(args.get("model") or "").strip()[:200],
        key_id=int(key) if key.isdigit() else None,
        customer=(args.get("customer") or "").strip()[:254] if operator else "",
        status=args.get("status") if args.get("status") in STATUSES else "",
    )


def filter_args(args: MultiDict) -> dict[str, str]:
    """The non-empty filter parameters, to carry into pager and export links."""
    names = ("date_from", "date_to", "model", "key", "customer", "status")
    return {n: args[n] for n in names if args.get(n)}


@bp.get("")
@login_required
def index():
    """The signed-in customer's requests, newest first, filtered and paginated."""
    user = me()
    flt = filter_from_args(request.args, user.id)
    page = paginate(usage_query(flt), page_number(request.args.get("page")))
    keys = (
        ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.prefix).where(ApiKey.user == user.id).order_by(ApiKey.id)
    )
    return render_page(
        "usage/index.html", "usage/_table.html", page=page, flt=flt, keys=list(keys),
        args=filter_args(request.args), endpoint="usage.index", show_customer=False,
    )  # fmt: skip


@bp.get("/export.csv")
@login_required
def export():
    """The same rows as the page, every page, as CSV."""
    flt = filter_from_args(request.args, me().id)
    return csv_response(usage_query(flt), "usage.csv")


def csv_response(query, filename: str) -> Response:  # type: ignore[no-untyped-def]
    """Stream a usage query as CSV (one query, rows read as they are written)."""
    return Response(
        stream_with_context(_csv_lines(query)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _csv_lines(query) -> Iterator[str]:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in query.iterator():
        writer.writerow(_csv_row(row))
        if buffer.tell() > 32_768:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_row(row: UsageRecord) -> list:
    return [
        row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.request_id, row.email, row.key_name or "",
        row.model, row.provider, row.endpoint, row.status, row.http_status, row.prompt_tokens,
        row.cached_tokens, row.completion_tokens, usd_plain(row.charge), row.latency_ms,
    ]  # fmt: skip
