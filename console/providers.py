"""Operator: upstream providers. Add, edit, disable, delete; the key is write-only; a live test."""

from __future__ import annotations

from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from console.access import operator_required
from console.forms import ProviderForm
from console.htmx import is_partial
from shared.catalog import add_provider
from shared.catalog_admin import delete_provider, masked_key, provider_by_id, update_provider
from shared.errors import InvalidInput, NotFound
from shared.models import Provider
from shared.probe import probe, probe_timeout_s

bp = Blueprint("providers", __name__, url_prefix="/operator/providers")


def _secret():  # type: ignore[no-untyped-def]
    return current_app.config["TOLLGATE"].secret_key


def _provider(provider_id: int) -> Provider:
    try:
        return provider_by_id(provider_id)
    except NotFound:
        abort(404)


def _field_error(form: ProviderForm, exc: InvalidInput) -> None:
    field = getattr(form, {"timeout": "timeout_s"}.get(exc.field, exc.field), form.name)
    field.errors = [*field.errors, exc.message]


def _render_index(form: ProviderForm, status: int = 200):  # type: ignore[no-untyped-def]
    providers = list(Provider.select().order_by(Provider.name))
    masks = {p.id: masked_key(p, _secret()) for p in providers}
    timeouts = {p.id: probe_timeout_s(p) for p in providers}
    page = render_template(
        "providers/index.html", providers=providers, masks=masks, form=form, probe_timeouts=timeouts
    )
    return page, status


@bp.get("")
@operator_required
def index():
    """Every provider, and the form to add one."""
    return _render_index(ProviderForm(formdata=None))


@bp.post("")
@operator_required
def create():
    """Add a provider; its key is encrypted at rest and never shown again."""
    form = ProviderForm()
    if form.validate_on_submit():
        try:
            provider = add_provider(
                form.name.data.strip(), form.base_url.data, form.api_key.data or "", _secret(),
                kind=form.kind.data, timeout_s=float(form.timeout_s.data),
            )  # fmt: skip
        except InvalidInput as exc:
            _field_error(form, exc)
        else:
            if not form.enabled.data:
                Provider.update(enabled=False).where(Provider.id == provider.id).execute()
            flash(f"Added provider {provider.name}.", "success")
            return redirect(url_for("providers.index"), code=303)
    return _render_index(form)


@bp.route("/<int:provider_id>/edit", methods=["GET", "POST"])
@operator_required
def edit(provider_id: int):
    """Change a provider; leave the key empty to keep the stored one."""
    provider = _provider(provider_id)
    form = ProviderForm() if request.method == "POST" else ProviderForm(obj=provider)
    if request.method == "GET":
        form.timeout_s.data = Decimal(str(provider.timeout_s))
    if form.validate_on_submit():
        try:
            update_provider(
                provider, form.name.data.strip(), form.kind.data, form.base_url.data,
                float(form.timeout_s.data), form.enabled.data, form.api_key.data or None, _secret(),
            )  # fmt: skip
        except InvalidInput as exc:
            _field_error(form, exc)
        else:
            flash(f"Saved provider {form.name.data}.", "success")
            return redirect(url_for("providers.index"), code=303)
    return render_template(
        "providers/edit.html", form=form, provider=provider, mask=masked_key(provider, _secret())
    )


@bp.post("/<int:provider_id>/delete")
@operator_required
def delete(provider_id: int):
    """Delete a provider and its routes."""
    provider = _provider(provider_id)
    delete_provider(provider)
    flash(f"Deleted provider {provider.name} and its routes.", "success")
    return redirect(url_for("providers.index"), code=303)


@bp.post("/<int:provider_id>/test")
@operator_required
def test(provider_id: int):
    """Send a 1-token request through the provider and show what came back."""
    provider = _provider(provider_id)
    result = probe(provider, _secret())
    if is_partial():
        return make_response(render_template("providers/_probe.html", result=result, provider=provider))
    if not result.tested:
        flash(f"{provider.name}: not tested: {result.message}", "info")
        return redirect(url_for("providers.index"), code=303)
    flash(
        f"{provider.name}: {'OK' if result.ok else 'FAILED'} (HTTP {result.status or '—'}, "
        f"{result.latency_ms} ms, model {result.model or '—'}): {result.message}",
        "success" if result.ok else "error",
    )
    return redirect(url_for("providers.index"), code=303)
