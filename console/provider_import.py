"""Operator: import models from a provider's own `/models` listing (a model and a route for each pick)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from console.access import operator_required
from shared.catalog_admin import provider_by_id
from shared.errors import InvalidInput, NotFound
from shared.models import Provider
from shared.pricing import imports
from shared.pricing.sources import SourceError

bp = Blueprint("provider_import", __name__, url_prefix="/operator/providers")


def _provider(provider_id: int) -> Provider:
    try:
        return provider_by_id(provider_id)
    except NotFound:
        abort(404)


def _page(provider: Provider, error: str = "", picked: frozenset[str] = frozenset(), status: int = 200):  # type: ignore[no-untyped-def]
    """The listing with checkboxes; an unreadable listing is the provider's failure (502)."""
    try:
        found = imports.candidates(provider, current_app.config["TOLLGATE"].secret_key)
    except SourceError as exc:
        page = render_template("providers/import.html", provider=provider, candidates=[], error=str(exc))
        return page, 502
    slugs = {k.removeprefix("slug:"): v for k, v in request.form.items() if k.startswith("slug:")}
    return render_template(
        "providers/import.html", provider=provider, candidates=found, error=error, picked=picked, slugs=slugs
    ), status


@bp.get("/<int:provider_id>/import")
@operator_required
def show(provider_id: int):
    """Every model the provider lists, with its cost and the sale price an import would give it."""
    return _page(_provider(provider_id))


@bp.post("/<int:provider_id>/import")
@operator_required
def run(provider_id: int):
    """Import the ticked models, each under its public id (editable, default `<provider>/<id>`)."""
    provider = _provider(provider_id)
    ids = request.form.getlist("model")
    slugs = {i: request.form.get(f"slug:{i}", "") for i in ids}
    try:
        if not ids:
            raise InvalidInput("model", "tick at least one model to import")
        done = imports.import_models(
            provider, current_app.config["TOLLGATE"].secret_key, ids, slugs, actor=current_user.email
        )
    except InvalidInput as exc:
        return _page(provider, f"{exc.field}: {exc.message}", frozenset(ids), 400)
    except SourceError as exc:
        return _page(provider, str(exc), frozenset(ids), 502)
    added = [d for d in done if d.state != "already configured"]
    unpriced = [d.slug for d in added if d.state.startswith("no price")]
    flash(f"Imported {len(added)} model(s) from {provider.name}.", "success")
    if unpriced:
        flash(
            f"No price found for {', '.join(unpriced)}: imported disabled. Set their prices below.", "error"
        )
    return redirect(url_for("prices.index"), code=303)
