"""The customer's email notices on their account page: which mail they want, and their own
low-balance threshold (shared/notices.py keeps the choices)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField

from console.access import me
from console.filters import usd_plain
from console.forms import PasswordForm, Usd, nano_of
from console.site import options
from shared import notices, site
from shared.vault import VaultError

bp = Blueprint("notices", __name__)


class NoticeForm(FlaskForm):
    deposit_credited = BooleanField("When a deposit is credited")
    low_balance = BooleanField("When my balance falls below my threshold")
    low_balance_threshold = StringField(
        "My low-balance threshold in USD (empty: the site's)", validators=[Usd()]
    )
    key_created = BooleanField("When an API key is created on my account")


def _form() -> NoticeForm:
    """The form of this request: the one just sent back with its errors, else the saved choices."""
    if "notice_form" in g:
        return g.notice_form
    prefs = notices.preferences(me().id)
    threshold = "" if prefs.low_balance_threshold is None else usd_plain(prefs.low_balance_threshold)
    return NoticeForm(
        formdata=None, deposit_credited=prefs.deposit_credited, low_balance=prefs.low_balance,
        key_created=prefs.key_created, low_balance_threshold=threshold,
    )  # fmt: skip


def _mail_enabled() -> bool:
    try:
        return site.mailer(options(), current_app.config["TOLLGATE"]) is not None
    except VaultError:
        return False


@bp.app_context_processor
def _notice_globals() -> dict:
    if not current_user.is_authenticated:
        return {}
    return {"notice_form": _form, "mail_enabled": _mail_enabled}


@bp.post("/account/notices")
@login_required
def save():
    """Save which notices the customer wants, and their threshold."""
    form = NoticeForm()
    if not form.validate_on_submit():
        g.notice_form = form
        return render_template("auth/password.html", form=PasswordForm(formdata=None)), 400
    choices = notices.Preferences(
        deposit_credited=form.deposit_credited.data,
        low_balance=form.low_balance.data,
        key_created=form.key_created.data,
        low_balance_threshold=nano_of(form.low_balance_threshold),
    )
    notices.save_preferences(me().id, choices)
    flash("Email notices saved.", "success")
    return redirect(url_for("auth.password") + "#notices", code=303)
