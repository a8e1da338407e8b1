"""Forgotten passwords: the public "Forgot password?" page and the one-time reset link's page.

The forgot page answers the same whether or not the email has an account, and mails the link
from a thread so that the answer also takes as long. It mails only when SMTP and the console's
public URL are both set (a link built from the request's Host header could point elsewhere).
"""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from console.access import client_address
from console.auth import too_many
from console.forms import ForgotForm, ResetForm
from console.refusals import worded
from shared import throttle
from shared.errors import InvalidInput
from shared.mail import Mailer, mailer_from
from shared.password_resets import UNUSABLE, mail_reset_link, redeem_reset, reset_link, usable_reset
from shared.settings import Settings

bp = Blueprint("recovery", __name__)

# Each request counts, whatever its outcome: three per email, then one after a minute, two, four…
FORGOT_LIMITS = throttle.Limits(
    per_email=3, per_address=20, backoff_s=60, max_backoff_s=3600, forget_after_s=3600
)


def _mailer() -> Mailer | None:
    """The mailer, when reset links can be mailed here."""
    settings: Settings = current_app.config["TOLLGATE"]
    return mailer_from(settings) if settings.console_public_url else None


def link_for(token: str) -> str:
    """A reset link to show an operator: under the public URL, else this request's host."""
    settings: Settings = current_app.config["TOLLGATE"]
    base = settings.console_public_url or url_for("dashboard.index", _external=True)
    return reset_link(base, token)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a reset link by email; the answer never says whether the account exists."""
    mailer = _mailer()
    form = ForgotForm()
    if mailer is None or not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form, can_mail=mailer is not None)
    email = form.email.data.strip().lower()
    limits: throttle.Limits = current_app.config["RESET_LIMITS"]
    attempt = throttle.claim(email, client_address(), limits, scope=throttle.RESET)
    if not attempt.granted:
        return too_many("auth/forgot.html", attempt.wait_s, form=form, can_mail=True)
    throttle.fail(attempt, limits)
    public_url = current_app.config["TOLLGATE"].console_public_url
    threading.Thread(target=mail_reset_link, args=(email, public_url, mailer), daemon=True).start()
    flash(
        _(
            "If an account uses that address, we have emailed it a link to choose a new password. "
            "The link works once, for one hour."
        ),
        "info",
    )
    return redirect(url_for("recovery.forgot"), code=303)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Choose a new password with a one-time link; every session of the account ends."""
    form = ResetForm()
    status = 200
    if usable_reset(token) is None:
        form, status = None, 404
    elif form.validate_on_submit():
        try:
            redeem_reset(token, form.password.data)
        except InvalidInput as exc:
            if exc.field == "password":
                form.password.errors = [worded(exc.message)]
            else:  # used or expired meanwhile
                form, status = None, 404
        else:
            logout_user()  # whoever was signed in to this browser must sign in again
            flash(_("Your password is changed. Sign in with it."), "success")
            return redirect(url_for("auth.login"), code=303)
    response = make_response(render_template("auth/reset.html", form=form, unusable=worded(UNUSABLE)), status)
    response.headers["Cache-Control"] = "no-store"  # the page's URL is the secret
    return response
