"""Operator: users. List, search and invite; one user's balance, keys, usage and ledger; adjust,
regroup, disable, a password-reset link, revoke a key."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Length

from console.access import me, operator_required
from console.forms import AdjustForm, UserGroupForm, nano_of
from console.htmx import render_page
from console.recovery import link_for
from shared.accounts import ROLES, create_user, revoke_key, set_user_status
from shared.billing import InsufficientBalance, adjust, balances, held_for
from shared.errors import InvalidInput, NotFound
from shared.group_admin import group_by_id, set_user_group
from shared.models import ApiKey, Group, User
from shared.pagination import page_number, paginate
from shared.password_resets import issue_reset
from shared.reports import UsageFilter, ledger_query, usage_query

bp = Blueprint("users", __name__, url_prefix="/operator/users")

DETAIL_ROWS = 20
INVITE_LIFETIME = dt.timedelta(days=7)  # an invitation waits longer than a reset link's hour


class InviteForm(FlaskForm):
    """A new user's email and role; they choose their password through the invite link."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice(r, r) for r in ROLES], default="customer")


def _user(user_id: int) -> User:
    user = User.select(User, Group).join(Group).where(User.id == user_id).first()
    if user is None:
        abort(404)
    return user


@bp.get("")
@operator_required
def index(invite_form: InviteForm | None = None, invited: tuple[User, str] | None = None):
    """Every user, searchable by email, with group, role, status and balance; the invite form."""
    q = (request.args.get("q") or "").strip()[:254]
    query = User.select(User, Group).join(Group).order_by(User.id.desc())
    if q:
        query = query.where(User.email.contains(q.lower()))
    page = paginate(query, page_number(request.args.get("page")))
    money = balances(page.items)
    form = invite_form or InviteForm(formdata=None)
    return render_page(
        "users/index.html",
        "users/_table.html",
        page=page,
        q=q,
        money=money,
        invite_form=form,
        invited=invited,
    )


@bp.post("/invite")
@operator_required
def invite():
    """Create a user without a password and show the one-time link where they set it."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, role=form.role.data)
        except InvalidInput as exc:
            form.email.errors = [*form.email.errors, exc.message]
        else:
            issued = issue_reset(user.id, INVITE_LIFETIME)
            return index(invited=(user, link_for(issued.token)))
    return index(invite_form=form)


def _group_form(user: User) -> UserGroupForm:
    form = UserGroupForm(group=user.group_id)
    form.group.choices = [SelectChoice(g.id, g.name) for g in Group.select().order_by(Group.name)]
    return form


@bp.get("/<int:user_id>")
@operator_required
def show(user_id: int, adjust_form: AdjustForm | None = None, reset_link: str | None = None):
    """One user: balance, keys, recent usage and ledger, and the operator's actions."""
    user = _user(user_id)
    return render_template(
        "users/show.html",
        user=user,
        held=held_for(user.id),
        keys=list(ApiKey.select().where(ApiKey.user == user.id).order_by(ApiKey.id.desc())),
        usage=list(usage_query(UsageFilter(user_id=user.id)).limit(DETAIL_ROWS)),
        ledger=list(ledger_query(user.id).limit(DETAIL_ROWS)),
        adjust_form=adjust_form or AdjustForm(formdata=None),
        group_form=_group_form(user),
        reset_link=reset_link,
    )


@bp.post("/<int:user_id>/adjust")
@operator_required
def adjust_balance(user_id: int):
    """Credit or debit a balance with a reason: a ledger entry, never an overwrite."""
    user = _user(user_id)
    form = AdjustForm()
    if form.validate_on_submit():
        amount = nano_of(form.amount)
        try:
            if not amount:
                raise ValueError("An adjustment of zero changes nothing.")
            adjust(user.id, amount, form.reason.data, actor_id=me().id)
        except InsufficientBalance:
            form.amount.errors = ["The balance is too small for this debit."]
        except ValueError as exc:
            form.amount.errors = [str(exc)]
        else:
            flash(f"Adjusted {user.email}'s balance.", "success")
            return redirect(url_for("users.show", user_id=user.id), code=303)
    return show(user_id, adjust_form=form)


@bp.post("/<int:user_id>/group")
@operator_required
def change_group(user_id: int):
    """Move a user to another group."""
    user = _user(user_id)
    form = _group_form(user)
    if form.validate_on_submit():
        set_user_group(user, group_by_id(form.group.data))
        flash("Group changed.", "success")
    else:
        flash("Choose one of the groups.", "error")
    return redirect(url_for("users.show", user_id=user.id), code=303)


@bp.post("/<int:user_id>/reset-link")
@operator_required
def password_reset_link(user_id: int):
    """Issue a one-time link that lets the user choose a new password; shown once, on this page."""
    user = _user(user_id)
    issued = issue_reset(user.id)
    return show(user.id, reset_link=link_for(issued.token))


@bp.post("/<int:user_id>/status")
@operator_required
def change_status(user_id: int):
    """Disable a user (their keys stop working) or enable them again."""
    user = _user(user_id)
    if user.id == me().id:
        flash("You cannot disable your own account.", "error")
    else:
        new = "disabled" if user.status == "active" else "active"
        set_user_status(user, new)
        flash(f"{user.email} is now {new}.", "success")
    return redirect(url_for("users.show", user_id=user.id), code=303)


@bp.post("/<int:user_id>/keys/<int:key_id>/revoke")
@operator_required
def revoke_user_key(user_id: int, key_id: int):
    """Revoke one of the user's keys: requests with it fail from now on."""
    user = _user(user_id)
    try:
        key = revoke_key(key_id, owner=user)
    except NotFound:
        abort(404)
    flash(f"Revoked key {key.name or key.prefix} of {user.email}.", "success")
    return redirect(url_for("users.show", user_id=user.id), code=303)
