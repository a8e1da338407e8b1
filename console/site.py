"""Operator: the Settings page (product name and logo, sign-ups, default group, welcome credit,
minimum deposit, SMTP with a test mail, announcement banner), and the options every page shows.

The options live in shared/site.py; the environment gives their defaults. The minimum deposit is
the TRON deposits' own setting (shared/tron/config.py), edited here too so there is only one.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from peewee import DatabaseError
from wtforms import (
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from console.access import operator_required
from console.filters import usd_plain
from console.forms import Usd, nano_of
from console.htmx import is_partial, render_page
from shared import site
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.mail import TIMEOUT_S as MAIL_TIMEOUT_S
from shared.mail import send_mail
from shared.models import Group
from shared.settings import Settings
from shared.tron import config as tron_config
from shared.tron.rate import format_usdt
from shared.vault import VaultError

bp = Blueprint("site", __name__)

SIGNUP_CHOICES = [
    SelectChoice("open", "Open: anyone can sign up"),
    SelectChoice("invite", "By invitation: only with an invite link"),
    SelectChoice("closed", "Closed: no sign-up"),
]
TLS_CHOICES = [
    SelectChoice("starttls", "STARTTLS when the server offers it (port 587)"),
    SelectChoice("tls", "TLS from the start (port 465)"),
    SelectChoice("none", "None (a local relay only)"),
]
GENERAL_FIELDS = ("product_name", "announcement", "signups", "default_group")
SMTP_FIELDS = ("smtp_host", "smtp_user", "smtp_from", "smtp_tls")


class SiteForm(FlaskForm):
    product_name = StringField("Product name", validators=[DataRequired(), Length(max=site.MAX_NAME)])
    announcement = TextAreaField(
        "Announcement banner (on every page; empty: none)", validators=[Length(max=site.MAX_ANNOUNCEMENT)]
    )
    signups = SelectField("Sign-ups", choices=SIGNUP_CHOICES)
    default_group = SelectField("Group of new sign-ups")
    welcome_credit = StringField("Welcome credit in USD (0: none)", validators=[Usd()])
    low_balance = StringField("Low-balance threshold in USD (for customers who set none)", validators=[Usd()])
    min_deposit = StringField("Minimum deposit (USDT)", validators=[DataRequired(), Length(max=30)])


class SmtpForm(FlaskForm):
    smtp_host = StringField("SMTP host (empty: TOLLGATE_SMTP_URL)", validators=[Length(max=253)])
    smtp_port = IntegerField("Port", default=587, validators=[Optional(), NumberRange(min=1, max=65535)])
    smtp_user = StringField("User (optional)", validators=[Length(max=254)])
    smtp_password = PasswordField("Password (leave empty to keep)", validators=[Length(max=254)])
    smtp_from = StringField("From address", validators=[Length(max=254)])
    smtp_tls = SelectField("TLS", choices=TLS_CHOICES)


class TestMailForm(FlaskForm):
    to = EmailField("Send a test mail to", validators=[DataRequired(), Length(max=254)])


class LogoForm(FlaskForm):
    logo = FileField(
        "Logo (PNG, JPEG, GIF or WebP; at most 256 KB)", validators=[FileRequired("Choose an image file.")]
    )


def options() -> site.SiteOptions:
    """This request's site options (from the app's cache; the defaults if the database is down)."""
    if "site_options" not in g:
        cache = current_app.extensions.setdefault("tollgate_site", site.OptionsCache())
        try:
            g.site_options = cache.get()
        except DatabaseError:
            g.site_options = site.SiteOptions()
    return g.site_options


@bp.app_context_processor
def _site_globals() -> dict:
    return {"site": options()}


def _settings() -> Settings:
    return current_app.config["TOLLGATE"]


def _general_form(opts: site.SiteOptions, formdata: bool = False) -> SiteForm:
    form = SiteForm() if formdata else SiteForm(
        formdata=None, product_name=opts.product_name, announcement=opts.announcement,
        signups=opts.signups, default_group=opts.default_group,
        welcome_credit=usd_plain(opts.welcome_credit), low_balance=usd_plain(opts.low_balance),
        min_deposit=format_usdt(tron_config.load(_settings().secret_key).min_deposit_micro),
    )  # fmt: skip
    names = [name for (name,) in Group.select(Group.name).order_by(Group.name).tuples()]
    form.default_group.choices = [SelectChoice(n, n) for n in sorted({site.DEFAULT_GROUP, *names})]
    return form


def _smtp_form(opts: site.SiteOptions) -> SmtpForm:
    return SmtpForm(
        formdata=None, smtp_host=opts.smtp_host, smtp_port=opts.smtp_port, smtp_user=opts.smtp_user,
        smtp_from=opts.smtp_from, smtp_tls=opts.smtp_tls,
    )  # fmt: skip


def _page(status: int = 200, **forms: object) -> tuple[str, int]:
    opts = site.load()
    context = {
        "general": forms.get("general") or _general_form(opts),
        "smtp": forms.get("smtp") or _smtp_form(opts),
        "test_mail": forms.get("test_mail") or TestMailForm(formdata=None),
        "logo_form": forms.get("logo_form") or LogoForm(formdata=None),
        "opts": opts,
        "env_smtp": _settings().smtp_url is not None,
        "password_set": bool(opts.smtp_password),
        "outcome": forms.get("outcome"),
        "mail_timeout_s": MAIL_TIMEOUT_S,
    }
    return render_template("site/index.html", **context), status


def _field_error(form: FlaskForm, exc: InvalidInput) -> None:
    name = "min_deposit" if exc.field == "min_deposit_micro" else exc.field
    field = getattr(form, name, None)
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


@bp.get("/operator/settings")
@operator_required
def index():
    """Every option with its current value."""
    return _page()


@bp.post("/operator/settings")
@operator_required
def save():
    """Save the general options; a bad value is shown by its field and nothing is saved."""
    form = _general_form(site.load(), formdata=True)
    if not form.validate_on_submit():
        return _page(400, general=form)
    changes: dict[str, object] = {name: getattr(form, name).data or "" for name in GENERAL_FIELDS}
    changes["welcome_credit"] = nano_of(form.welcome_credit) or 0
    changes["low_balance"] = nano_of(form.low_balance) or 0
    try:
        with write_transaction():  # all of it or nothing
            site.update(changes, _settings().secret_key)
            tron_config.update({"min_deposit_micro": form.min_deposit.data}, _settings().secret_key)
    except InvalidInput as exc:
        _field_error(form, exc)
        return _page(400, general=form)
    site.CHANGES.bump()  # again after the commit: a page read between the two kept the old values
    flash("Settings saved.", "success")
    return redirect(url_for("site.index"), code=303)


@bp.post("/operator/settings/smtp")
@operator_required
def save_smtp():
    """Save the SMTP server; an empty password field keeps the stored password."""
    form = SmtpForm()
    if not form.validate_on_submit():
        return _page(400, smtp=form)
    changes: dict[str, object] = {name: getattr(form, name).data or "" for name in SMTP_FIELDS}
    changes["smtp_port"] = form.smtp_port.data or 587
    if form.smtp_password.data:
        changes["smtp_password"] = form.smtp_password.data
    try:
        site.update(changes, _settings().secret_key)
    except InvalidInput as exc:
        _field_error(form, exc)
        return _page(400, smtp=form)
    flash("Mail settings saved. Send a test mail to check them.", "success")
    return redirect(url_for("site.index"), code=303)


@dataclass(frozen=True)
class TestMailOutcome:
    """How a test mail went, in words for the operator."""

    sent: bool
    text: str


def _send_test_mail(to: str) -> TestMailOutcome:
    """Send a test mail now with the saved settings; the server's refusal or silence in words."""
    opts = site.load()
    try:
        mailer = site.mailer(opts, _settings())
    except VaultError as exc:
        return TestMailOutcome(False, f"The stored SMTP password cannot be read: {exc}. Save it again.")
    if mailer is None:
        return TestMailOutcome(False, "No SMTP server is set: save one above, or set TOLLGATE_SMTP_URL.")
    where = f"{mailer.host}:{mailer.port}"
    body = f"This is a test mail from {opts.product_name}. Mail from this console works."
    try:
        send_mail(mailer, to, f"{opts.product_name}: test mail", body)
    except TimeoutError:
        return TestMailOutcome(False, f"{where} did not answer within {MAIL_TIMEOUT_S:g} s.")
    except smtplib.SMTPResponseException as exc:
        answer = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return TestMailOutcome(False, f"{where} refused the mail: {exc.smtp_code} {answer}")
    except (OSError, smtplib.SMTPException) as exc:  # refused connection, TLS failure, bad address
        return TestMailOutcome(False, f"The test mail could not be sent through {where}: {exc}")
    return TestMailOutcome(True, f"{where} accepted the test mail to {to}.")


@bp.post("/operator/settings/test-mail")
@operator_required
def test_mail():
    """Send a mail now with the saved settings and show the server's answer or error."""
    form = TestMailForm()
    if form.validate_on_submit():
        outcome = _send_test_mail(form.to.data.strip())
    else:
        outcome = TestMailOutcome(False, "Enter the address to send the test mail to.")
    if is_partial():  # htmx swaps only 2xx answers: the outcome says how it went
        return render_page("site/index.html", "site/_test_mail.html", outcome=outcome)
    return _page(200 if outcome.sent else 502, test_mail=form, outcome=outcome)


@bp.post("/operator/settings/logo")
@operator_required
def upload_logo():
    """Replace the logo with an uploaded image (type and size checked)."""
    form = LogoForm()
    if not form.validate_on_submit():
        return _page(400, logo_form=form)
    try:
        site.set_logo(form.logo.data.read(site.MAX_LOGO_BYTES + 1))
    except InvalidInput as exc:
        form.logo.errors = [f"The logo {exc.message}."]
        return _page(400, logo_form=form)
    flash("Logo saved.", "success")
    return redirect(url_for("site.index"), code=303)


@bp.post("/operator/settings/logo/remove")
@operator_required
def remove_logo():
    """Show the product name alone again."""
    site.clear_logo()
    flash("Logo removed.", "success")
    return redirect(url_for("site.index"), code=303)


@bp.get("/logo")
def logo():
    """The uploaded logo (public: the sign-in page shows it too); 404 when there is none."""
    found = site.logo()
    if found is None:
        return Response("No logo.", 404, mimetype="text/plain")
    response = Response(found.data, mimetype=found.content_type)
    response.set_etag(found.version)
    # The URL carries the version (?v=), so a new logo is a new URL.
    response.headers["Cache-Control"] = "public, max-age=86400" if request.args.get("v") else "no-cache"
    return response.make_conditional(request)
