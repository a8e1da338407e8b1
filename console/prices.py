"""Operator: the model catalog and price table. Add models and routes, edit prices inline, enable/disable."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from console.access import operator_required
from console.filters import usd_plain
from console.forms import ModelRouteForm, PriceRowForm, nano_of
from console.htmx import is_partial
from shared.catalog import add_model_route
from shared.catalog_admin import (
    ModelPrices,
    delete_route,
    model_by_id,
    models_query,
    routes_query,
    set_route_enabled,
    update_model,
)
from shared.errors import InvalidInput, NotFound
from shared.models import CatalogModel, Provider
from shared.platforms import offered_on
from shared.price_sheet import format_entries, other_meters

bp = Blueprint("prices", __name__, url_prefix="/operator/models")
# Which form field a domain error's field names (the rest are named alike).
FORM_FIELDS = {"model": "slug", "price": "meters", "cost": "cost_meters"}


def _model(model_id: int) -> CatalogModel:
    try:
        return model_by_id(model_id)
    except NotFound:
        abort(404)


def _add_form(formdata: bool = True) -> ModelRouteForm:
    form = ModelRouteForm() if formdata else ModelRouteForm(formdata=None)
    form.provider.choices = [SelectChoice(p.id, p.name) for p in Provider.select().order_by(Provider.name)]
    return form


def _page(
    add_form: ModelRouteForm | None = None, editing: int | None = None, row_form=None, status: int = 200
):  # type: ignore[no-untyped-def]
    q = (request.args.get("q") or "").strip()[:200]
    page = render_template(
        "prices/index.html",
        models=list(models_query(q)),
        routes=list(routes_query()),
        form=add_form or _add_form(formdata=False),
        q=q,
        editing=editing,
        row_form=row_form,
    )
    return page, status


@bp.get("")
@operator_required
def index():
    """Every model with its sale prices, every route with its cost and margin, and the add form."""
    if is_partial():
        q = (request.args.get("q") or "").strip()[:200]
        return render_template("prices/_models.html", models=list(models_query(q)), editing=None)
    return _page()


def _row_form(model: CatalogModel) -> PriceRowForm:
    form = PriceRowForm(formdata=None)
    form.input_price.data = usd_plain(model.input_price)
    form.output_price.data = usd_plain(model.output_price)
    form.cached_input_price.data = usd_plain(model.cached_input_price)
    form.context_length.data = model.context_length
    form.modality.data = model.modality
    form.meters.data = format_entries(other_meters(model.prices or {}))
    form.capabilities.data = list(model.capabilities or [])
    form.platforms.data = sorted(offered_on(model.platforms))
    form.enabled.data = model.enabled
    return form


@bp.get("/<int:model_id>/edit")
@operator_required
def edit_row(model_id: int):
    """One price row as a form (htmx swaps it in place; without JS, the page with that row open)."""
    model = _model(model_id)
    form = _row_form(model)
    if is_partial():
        return render_template("prices/_row_edit.html", m=model, row_form=form)
    return _page(editing=model.id, row_form=form)


@bp.get("/<int:model_id>")
@operator_required
def show_row(model_id: int):
    """One price row, read-only (the edit row's Cancel)."""
    model = _model(model_id)
    if is_partial():
        return render_template("prices/_row.html", m=model)
    return redirect(url_for("prices.index"))


@bp.post("/<int:model_id>")
@operator_required
def update_row(model_id: int):
    """Save one row's prices; the data plane charges the new price from its next config poll."""
    model = _model(model_id)
    form = PriceRowForm()
    if form.validate_on_submit():
        prices = ModelPrices(
            input_price=nano_of(form.input_price) or 0,
            output_price=nano_of(form.output_price) or 0,
            cached_input_price=nano_of(form.cached_input_price),
            context_length=form.context_length.data,
            modality=form.modality.data,
            # A post without the meters field (an older page) keeps the stored meter prices.
            meters=form.meters.prices if "meters" in request.form else None,
            capabilities=form.capabilities.data or [],
            # The checkboxes send nothing when none is ticked; the marker tells that from an older page.
            platforms=(form.platforms.data or []) if "platforms_listed" in request.form else None,
        )
        try:
            model = update_model(model, prices, bool(form.enabled.data), actor=current_user.email)
        except InvalidInput as exc:
            _field(form, exc.field, form.input_price).errors = [exc.message]
        else:
            if is_partial():
                return render_template("prices/_row.html", m=model, saved=True)
            flash(f"Saved prices of {model.slug}.", "success")
            return redirect(url_for("prices.index"), code=303)
    if is_partial():
        # htmx swaps only 2xx answers: the row with its errors comes back as 200.
        return render_template("prices/_row_edit.html", m=model, row_form=form)
    return _page(editing=model.id, row_form=form, status=400)


def _field(form, name: str, default):  # type: ignore[no-untyped-def]
    """The form field a domain error names (`default` when the form has none by that name)."""
    return getattr(form, FORM_FIELDS.get(name, name), default)


@bp.post("")
@operator_required
def create():
    """Add a model and a route to it (or another route to an existing model)."""
    form = _add_form()
    if form.validate_on_submit():
        provider = Provider.get_or_none(Provider.id == form.provider.data)
        sale_in, sale_out = nano_of(form.input_price) or 0, nano_of(form.output_price) or 0
        cost_in, cost_out = nano_of(form.input_cost), nano_of(form.output_cost)
        try:
            add_model_route(
                form.slug.data.strip(), provider.name if provider else "", sale_in, sale_out,
                upstream_model=(form.upstream_model.data or "").strip() or None,
                priority=form.priority.data or 0, weight=form.weight.data or 1, modality=form.modality.data,
                context_length=form.context_length.data,
                costs=(_or(cost_in, sale_in), _or(cost_out, sale_out), None),
                meters=form.meters.prices, cost_meters=_costs(form),
                capabilities=form.capabilities.data or None, actor=current_user.email,
            )  # fmt: skip
        except (InvalidInput, NotFound) as exc:
            target = getattr(exc, "field", "provider")
            _field(form, target, form.slug).errors = [getattr(exc, "message", str(exc))]
        else:
            flash(f"Added a route for {form.slug.data.strip()}.", "success")
            return redirect(url_for("prices.index"), code=303)
    return _page(add_form=form, status=400)


def _costs(form: ModelRouteForm) -> dict[str, int] | None:
    """The route's cost of every other meter: its sale price unless the cost lines say otherwise."""
    if not form.cost_meters.prices:
        return None
    return {**form.meters.prices, **form.cost_meters.prices}


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@bp.post("/routes/<int:route_id>/toggle")
@operator_required
def toggle_route(route_id: int):
    """Enable or disable one route."""
    enabled = request.form.get("enabled") == "1"
    try:
        set_route_enabled(route_id, enabled)
    except NotFound:
        abort(404)
    return redirect(url_for("prices.index"), code=303)


@bp.post("/routes/<int:route_id>/delete")
@operator_required
def remove_route(route_id: int):
    """Delete one route."""
    try:
        delete_route(route_id)
    except NotFound:
        abort(404)
    flash("Route deleted.", "success")
    return redirect(url_for("prices.index"), code=303)
