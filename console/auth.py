"""Sign up, sign in, sign out, password change, and the first operator's one-time setup."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from console.access import Account, client_address, me
from console.forms import LoginForm, PasswordForm, SetupForm, SignupForm
from shared import throttle
from shared.accounts import create_user
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import User, utcnow
from shared.passwords import hash_password, verify_password
from shared.setup_token import create_first_operator, setup_open

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.index")


def _field_error(form, exc: InvalidInput) -> None:  # type: ignore[no-untyped-def]
    field = getattr(form, exc.field, None)
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "error")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    """Create a customer account and sign it in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.password.data)
        except InvalidInput as exc:
            _field_error(form, exc)
        else:
            login_user(Account(user))
            flash("Welcome! Create an API key to start.", "success")
            return redirect(url_for("keys.index"), code=303)
    return render_template("auth/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password; repeated failures lock the email and address for a while."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email, address = form.email.data.strip().lower(), client_address()
        wait = throttle.locked_for(email, address)
        if wait:
            flash(f"Too many failed attempts. Try again in {wait // 60 + 1} minutes.", "error")
            return render_template("auth/login.html", form=form), 429
        user = User.get_or_none(User.email == email)
        if user is not None and verify_password(user.password_hash, form.password.data):
            if user.status != "active":
                flash("This account is disabled. Contact the operator.", "error")
                return render_template("auth/login.html", form=form), 403
            throttle.record_success(email)
            User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
            login_user(Account(user))
            return redirect(_safe_next(request.args.get("next")), code=303)
        throttle.record_failure(email, address)
        flash("Wrong email or password.", "error")
        status = 401
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out (a POST with the CSRF token, so another site cannot sign you out)."""
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change the password; every other session of this account is signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = me()
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors = ["This is not your current password."]
        else:
            new_hash = hash_password(form.password.data)
            with write_transaction():
                User.update(password_hash=new_hash).where(User.id == user.id).execute()
            user.password_hash = new_hash
            login_user(Account(user))
            flash("Password changed. Other sessions are signed out.", "success")
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
            login_user(Account(user))
            flash("You are the operator. Add a provider and a model next.", "success")
            return redirect(url_for("providers.index"), code=303)
    return render_template("auth/setup.html", form=form)
