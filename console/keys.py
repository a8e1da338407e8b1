"""API keys: create on a platform (the secret is shown once), edit name/expiry/models/cap/rate limits,
revoke."""

from __future__ import annotations

import datetime as dt

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
from flask_babel import gettext as _
from flask_login import login_required

from console.access import me
from console.forms import KeyForm, nano_of
from console.htmx import is_partial, render_page
from shared import notices
from shared.accounts import create_key, owned_key, parse_model_list, revoke_key
from shared.catalog_admin import visible_models
from shared.db import write_transaction
from shared.errors import InvalidInput, NotFound
from shared.key_admin import update_key
from shared.models import ApiKey, Group, User
from shared.platforms import offered_on

bp = Blueprint("keys", __name__, url_prefix="/keys")


def _keys_of(user: User) -> list[ApiKey]:
    return list(
        ApiKey.select()
        .where(ApiKey.user == user.id)
        .order_by(ApiKey.revoked_at.is_null(False), ApiKey.id.desc())
    )


def _check_models(form: KeyForm, user: User, platform: str) -> list[str] | None:
    """The models typed in the form, if the user's group may call each of them on the key's platform."""
    models = parse_model_list(form.models.data)
    if models:
        group = Group.get_by_id(user.group_id)
        allowed = {m.slug for m in visible_models(group) if platform in offered_on(m.platforms)}
        unknown = [m for m in models if m not in allowed]
        if unknown:
            form.models.errors = [
                _("Not a model you can use: %(models)s (on the %(platform)s platform)",
                  models=", ".join(unknown), platform=platform)
            ]  # fmt: skip
            return None
    return models


def _expiry(day: dt.date | None) -> dt.datetime | None:
    # A key that "expires on" a day still works through that whole day (UTC).
    return dt.datetime(day.year, day.month, day.day) + dt.timedelta(days=1) if day else None


def _apply_error(form: KeyForm, exc: InvalidInput) -> None:
    target = {"expires_at": form.expires_on, "spend_cap": form.spend_cap}.get(exc.field) or getattr(
        form, exc.field, form.name
    )
    target.errors = [*target.errors, exc.message]


@bp.get("")
@login_required
def index():
    """The customer's keys and the form to create one."""
    return render_template("keys/index.html", form=KeyForm(), keys=_keys_of(me()), created=None)


@bp.post("")
@login_required
def create():
    """Create a key and show its secret this one time (never stored, never shown again)."""
    user, form = me(), KeyForm()
    created = None
    if form.validate_on_submit():
        models = _check_models(form, user, form.platform.data)
        if not form.models.errors:
            try:
                with write_transaction():  # the key and its notice mail, together
                    key, secret = create_key(
                        user,
                        name=form.name.data or "",
                        models=models,
                        spend_cap=nano_of(form.spend_cap),
                        expires_at=_expiry(form.expires_on.data),
                        prefix=current_app.config["TOLLGATE"].key_prefix,
                        rpm_limit=form.rpm_limit.data,
                        tpm_limit=form.tpm_limit.data,
                        platform=form.platform.data,
                    )
                    notices.key_created(user.id, key.name, key.prefix)
            except InvalidInput as exc:
                _apply_error(form, exc)
            else:
                created = {"key": key, "secret": secret}
                form = KeyForm(formdata=None)
    response = render_page(
        "keys/index.html", "keys/_panel.html", form=form, keys=_keys_of(user), created=created
    )
    # The secret must not land in any cache or history snapshot.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:key_id>/edit", methods=["GET", "POST"])
@login_required
def edit(key_id: int):
    """Rename a key, or change its expiry, allowed models, spend cap and rate limits."""
    key = _own(key_id)
    if key.revoked_at is not None:
        abort(404)
    form = KeyForm() if request.method == "POST" else _form_for(key)
    if form.validate_on_submit():
        models = _check_models(form, me(), key.platform)
        if not form.models.errors:
            try:
                update_key(
                    key,
                    form.name.data or "",
                    models,
                    nano_of(form.spend_cap),
                    _expiry(form.expires_on.data),
                    rpm_limit=form.rpm_limit.data,
                    tpm_limit=form.tpm_limit.data,
                )
            except InvalidInput as exc:
                _apply_error(form, exc)
            else:
                flash(_("Saved key %(prefix)s.", prefix=key.prefix), "success")
                return redirect(url_for("keys.index"), code=303)
    return render_template("keys/edit.html", form=form, key=key)


@bp.post("/<int:key_id>/revoke")
@login_required
def revoke(key_id: int):
    """Revoke a key; the data plane refuses it within two seconds."""
    try:
        key = revoke_key(key_id, owner=me())
    except NotFound:
        abort(404)
    if is_partial():
        return make_response(render_template("keys/_row.html", key=key))
    flash(_("Revoked key %(prefix)s.", prefix=key.prefix), "success")
    return redirect(url_for("keys.index"), code=303)


def _own(key_id: int) -> ApiKey:
    try:
        return owned_key(key_id, me())
    except NotFound:
        abort(404)


def _form_for(key: ApiKey) -> KeyForm:
    form = KeyForm(formdata=None)
    form.name.data = key.name
    form.models.data = ", ".join(key.allowed_models or [])
    form.spend_cap.data = current_app.jinja_env.filters["usd_plain"](key.spend_cap)
    form.rpm_limit.data, form.tpm_limit.data = key.rpm_limit, key.tpm_limit
    if key.expires_at is not None:
        form.expires_on.data = (key.expires_at - dt.timedelta(days=1)).date()
    return form
