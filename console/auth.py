"""Sign up, sign in, sign out, password change, and the first operator's one-time setup.

Sessions live server-side (shared/sessions.py): signing out ends this browser's session;
"sign out everywhere else" on the account page ends the others;
changing the password ends every other session of the account and keeps this one.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from console.access import Account, client_address, me
from console.forms import LoginForm, PasswordForm, SetupForm, SignupForm
from console.redirects import safe_next
from console.refusals import worded
from console.site import options as site_options
from shared import throttle
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import User, utcnow
from shared.passwords import hash_password, verify_password
from shared.sessions import end_other_sessions, end_session, open_session
from shared.setup_token import create_first_operator, setup_open
from shared.signups import CLOSED, INVITE_ONLY, SignupsClosed, invited, sign_up

bp = Blueprint("auth", __name__)


class Throttled(Exception):
    """Too many recent failures: the attempt was refused before any password was checked."""

    def __init__(self, wait_s: int) -> None:
        super().__init__(wait_s)
        self.wait_s = wait_s


def _field_error(form, exc: InvalidInput) -> None:  # type: ignore[no-untyped-def]
    field, message = getattr(form, exc.field, None), worded(exc.message)
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        flash(message, "error")


def sign_in(user: User) -> None:
    """Start a server-side session for `user` in this browser."""
    login_user(Account(user, open_session(user.id)))


def too_many(template: str, wait_s: int, **context):  # type: ignore[no-untyped-def]
    """The 429 page for a throttled form, with how long to wait and a Retry-After header."""
    flash(
        ngettext(
            "Too many failed attempts. Try again in %(num)s second.",
            "Too many failed attempts. Try again in %(num)s seconds.",
            wait_s,
        ),
        "error",
    )
    return render_template(template, **context), 429, {"Retry-After": str(wait_s)}


def checked_user(email: str, password: str) -> User | None:
    """The user whose password `password` is; raises Throttled when the throttle says wait.

    The attempt is claimed from the throttle before the password is checked, so parallel
    guesses cannot all be checked before the first failure is counted.
    """
    limits: throttle.Limits = current_app.config["LOGIN_LIMITS"]
    attempt = throttle.claim(email, client_address(), limits)
    if not attempt.granted:
        raise Throttled(attempt.wait_s)
    try:
        user = User.get_or_none(User.email == email)
        right = user is not None and verify_password(user.password_hash, password)
    except Exception:
        throttle.release(attempt)
        raise
    if not right:
        throttle.fail(attempt, limits)
        return None
    throttle.succeed(attempt)
    return user


def _signup_refusal(mode: str, invite: str, guest: User | None) -> str:
    """Why this sign-up is refused ("" when it is not): closed, or by invitation and none valid."""
    if guest is not None:  # an operator's invitation opens the site in every mode
        return ""
    if mode == "closed":
        return CLOSED
    if mode == "invite" or invite:
        return INVITE_ONLY
    return ""


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    """Create a customer account and sign it in, as the site's sign-up mode allows."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    options, invite = site_options(), request.args.get("invite", "")[:200]
    guest = invited(invite) if invite else None
    refusal = _signup_refusal(options.signups, invite, guest)
    if refusal:
        return render_template("auth/signup_closed.html", message=worded(refusal)), 403
    form = SignupForm()
    if guest is not None:
        form.email.data = guest.email  # the invitation names the account
    if form.validate_on_submit():
        try:
            user = sign_up(form.email.data, form.password.data, options, invite)
        except InvalidInput as exc:
            _field_error(form, exc)
        except SignupsClosed as exc:
            return render_template("auth/signup_closed.html", message=worded(str(exc))), 403
        else:
            sign_in(user)
            flash(_("Welcome! Create an API key to start."), "success")
            return redirect(url_for("keys.index"), code=303)
    return render_template("auth/signup.html", form=form, invite=invite, guest=guest)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password; repeated failures slow further attempts down."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = checked_user(form.email.data.strip().lower(), form.password.data)
    except Throttled as exc:
        return too_many("auth/login.html", exc.wait_s, form=form)
    if user is None:
        flash(_("Wrong email or password."), "error")
        return render_template("auth/login.html", form=form), 401
    if user.status != "active":
        flash(_("This account is disabled. Contact the operator."), "error")
        return render_template("auth/login.html", form=form), 403
    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    sign_in(user)
    return redirect(safe_next(request.args.get("next"), url_for("dashboard.index")), code=303)


@bp.post("/logout")
def logout():
    """Sign out this browser (a POST with the CSRF token, so another site cannot sign you out)."""
    if current_user.is_authenticated:
        end_session(current_user.get_id())
    logout_user()
    flash(_("Signed out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/account/sessions/end-others")
@login_required
def end_others():
    """Sign out every other browser of this account; this one stays signed in."""
    end_other_sessions(me().id, keep=current_user.get_id())
    flash(_("Every other session of this account is signed out."), "success")
    return redirect(url_for("auth.password"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change the password; every other session of this account is signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = me()
        try:
            right = checked_user(user.email, form.current.data) is not None
        except Throttled as exc:
            return too_many("auth/password.html", exc.wait_s, form=form)
        if not right:
            form.current.errors = [_("This is not your current password.")]
        else:
            new_hash = hash_password(form.password.data)
            with write_transaction():
                User.update(password_hash=new_hash).where(User.id == user.id).execute()
                end_other_sessions(user.id, keep=current_user.get_id())
            user.password_hash = new_hash
            flash(_("Password changed. Other sessions are signed out."), "success")
            return redirect(url_for("auth.password"), code=303)
    return render_template("auth/password.html", form=form)


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first operator with the token from the console's log (fresh installs only)."""
    if not setup_open():
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if form.validate_on_submit():
        settings = current_app.config["TOLLGATE"]
        try:
            user = create_first_operator(
                form.token.data, form.email.data, form.password.data, settings.var_dir
            )
        except InvalidInput as exc:
            _field_error(form, exc)
        else:
            sign_in(user)
            flash(_("You are the operator. Add a provider and a model next."), "success")
            return redirect(url_for("providers.index"), code=303)
    return render_template("auth/setup.html", form=form)
