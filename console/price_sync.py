"""Operator: price sync on the Models & prices page. Sync now or preview, the sources' status, the
changes held for approval, the change log, markup rules, the threshold, pinned prices and route
matches. Every action is a shared/pricing call; htmx swaps the panel, plain forms get the page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from console.access import operator_required
from console.htmx import is_partial
from shared.catalog_admin import routes_query
from shared.errors import InvalidInput, NotFound
from shared.models import CatalogModel
from shared.money import AmountError, parse_usd
from shared.pricing import settings as price_settings
from shared.pricing import sync as price_sync
from shared.pricing import versions
from shared.pricing.markup import Rule
from shared.pricing.sync import SyncResult

bp = Blueprint("price_sync", __name__, url_prefix="/operator/prices")
LOG_LENGTH = 20


def _actor() -> str:
    return current_user.email


def panel() -> dict[str, Any]:
    """Everything the panel shows (read when the Models & prices page renders it)."""
    rules = price_settings.rules()
    models = list(CatalogModel.select().order_by(CatalogModel.slug))
    return {
        "status": price_settings.status(),
        "sources": price_settings.sources(),
        "configured": price_settings.configured(),
        "threshold": price_settings.threshold_pct(),
        "rules": [("global", "", rules.default)]
        + [("provider", k, r) for k, r in sorted(rules.providers.items())]
        + [("model", k, r) for k, r in sorted(rules.models.items())],
        "pending": price_sync.pending(),
        "log": versions.history(LOG_LENGTH),
        "models": models,
        "routes": list(routes_query()),
        "changed": versions.last_changed(),
        "moves": versions.moves,
    }


def _render(result: SyncResult | None = None, error: str = "", notice: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    """The panel (htmx) or the price-sync page, with a sync's result or an error."""
    context = dict(p=panel(), result=result, error=error, notice=notice)
    if is_partial():
        # htmx swaps only 2xx answers: an error comes back inside the panel, as 200.
        return render_template("prices/_sync.html", **context)
    return render_template("prices/sync.html", **context), status


def _done(notice: str):  # type: ignore[no-untyped-def]
    """After a change: the fresh panel for htmx, a redirect to the page for a plain form."""
    if is_partial():
        return _render(notice=notice)
    flash(notice, "success")
    return redirect(url_for("prices.index") + "#price-sync", code=303)


def _failed(exc: InvalidInput | NotFound):  # type: ignore[no-untyped-def]
    text = f"{exc.field}: {exc.message}" if isinstance(exc, InvalidInput) else f"no {exc.what} {exc.name}"
    return _render(error=text, status=400 if isinstance(exc, InvalidInput) else 404)


@bp.get("")
@operator_required
def index():
    """The price-sync panel as a page of its own."""
    return _render()


@bp.post("/sync")
@operator_required
def run():
    """Sync now, or with `dry_run` preview what a sync would change (changing nothing)."""
    dry_run = request.form.get("dry_run") == "1"
    result = price_sync.sync(dry_run=dry_run, secret_key=current_app.config["TOLLGATE"].secret_key)
    if is_partial() or dry_run:
        return _render(result=result)
    flash(f"Synced: {len(result.applied)} changed, {len(result.held)} held for approval.", "success")
    return redirect(url_for("prices.index") + "#price-sync", code=303)


@bp.post("/changes/<int:change_id>/<any(approve, reject):decision>")
@operator_required
def decide(change_id: int, decision: str):
    """Approve (apply) or reject a held change."""
    try:
        if decision == "approve":
            change = price_sync.approve(change_id, _actor())
        else:
            change = price_sync.reject(change_id, _actor())
    except (InvalidInput, NotFound) as exc:
        return _failed(exc)
    return _done(f"{'Applied' if decision == 'approve' else 'Rejected'} the change to {change.model.slug}.")


def _rule_from_form() -> Rule | None:
    if request.form.get("remove") == "1":
        return None
    try:
        pct = Decimal((request.form.get("percent") or "0").strip())
    except InvalidOperation as exc:
        raise InvalidInput("percent", "must be a number of percent, e.g. 5 or 12.5") from exc
    fixed, step = _usd("fixed", "0"), _usd("step", "0.000000001")
    return Rule.from_json({"markup_pct": str(pct), "fixed": fixed, "step": step})


def _usd(name: str, default: str) -> int:
    try:
        return parse_usd((request.form.get(name) or "").strip() or default)
    except AmountError as exc:
        raise InvalidInput(name, str(exc)) from exc


@bp.post("/markup")
@operator_required
def markup():
    """Set or remove the global markup rule, a provider's or a model's."""
    scope = request.form.get("scope") or "global"
    name = (request.form.get("name") or "").strip()
    try:
        price_settings.set_rule(scope, name, _rule_from_form())
    except InvalidInput as exc:
        return _failed(exc)
    return _done(f"Saved the {scope} markup rule{' for ' + name if name else ''}.")


@bp.post("/threshold")
@operator_required
def threshold():
    """How far a sync may move a sale price before the change waits for approval."""
    try:
        value = Decimal((request.form.get("threshold") or "").strip())
    except InvalidOperation:
        return _failed(InvalidInput("threshold", "must be a number of percent"))
    try:
        price_settings.set_threshold_pct(value)
    except InvalidInput as exc:
        return _failed(exc)
    return _done(f"Changes past {value} % now wait for approval.")


@bp.post("/sources")
@operator_required
def sources():
    """The price sources, one a line, first tried first."""
    lines = [line.strip() for line in (request.form.get("sources") or "").splitlines() if line.strip()]
    try:
        if not lines:
            raise InvalidInput("source", "give at least one source (genai-prices needs no URL)")
        price_settings.set_sources([price_settings.parse_spec(line) for line in lines])
    except InvalidInput as exc:
        return _failed(exc)
    return _done("Saved the price sources; the worker syncs from them every interval.")


@bp.post("/models/<int:model_id>/pin")
@operator_required
def pin(model_id: int):
    """Keep a model's sale prices out of every sync (or let syncs set them again)."""
    model = CatalogModel.get_or_none(CatalogModel.id == model_id)
    if model is None:
        return _failed(NotFound("model", model_id))
    pinned = request.form.get("pinned") == "1"
    price_sync.pin(model.slug, pinned)
    return _done(f"{model.slug}: prices {'pinned' if pinned else 'follow the sync again'}.")


@bp.post("/routes/<int:route_id>/match")
@operator_required
def match(route_id: int):
    """Price one route from a chosen source entry id (empty: match it by name again)."""
    try:
        route = price_sync.set_route_match(route_id, request.form.get("entry"))
    except (InvalidInput, NotFound) as exc:
        return _failed(exc)
    entry = route.price_match or "the best match by name"
    return _done(f"Route {route.model.slug} via {route.provider.name} is priced from {entry}.")


@bp.app_context_processor
def _panel_loader() -> dict[str, Any]:
    # The Models & prices page includes the panel; it loads its data only when rendered.
    return {"price_sync_panel": panel}
