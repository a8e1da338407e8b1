"""Operator: customer groups (name, price multiplier, allowed models, per-user rate limits)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from console.access import operator_required
from console.filters import multiplier
from console.forms import GroupForm
from shared.accounts import parse_model_list
from shared.errors import InvalidInput, NotFound
from shared.group_admin import group_by_id, groups_query, save_group
from shared.models import CatalogModel, Group

bp = Blueprint("groups", __name__, url_prefix="/operator/groups")


def _group(group_id: int) -> Group:
    try:
        return group_by_id(group_id)
    except NotFound:
        abort(404)


def _save(form: GroupForm, group: Group | None) -> bool:
    models = parse_model_list(form.allowed_models.data)
    if models:
        known = {slug for (slug,) in CatalogModel.select(CatalogModel.slug).tuples()}
        unknown = [m for m in models if m not in known]
        if unknown:
            form.allowed_models.errors = [f"Unknown models: {', '.join(unknown)}"]
            return False
    try:
        save_group(
            group,
            form.name.data,
            form.multiplier.ppm,
            models,
            rpm_limit=form.rpm_limit.data,
            tpm_limit=form.tpm_limit.data,
        )
    except InvalidInput as exc:
        getattr(form, exc.field, form.name).errors = [exc.message]
        return False
    return True


@bp.route("", methods=["GET", "POST"])
@operator_required
def index():
    """Every group with its members, and the form to add one."""
    form = GroupForm() if request.method == "POST" else GroupForm(formdata=None)
    if form.validate_on_submit() and _save(form, None):
        flash(f"Added group {form.name.data}.", "success")
        return redirect(url_for("groups.index"), code=303)
    return render_template("groups/index.html", groups=list(groups_query()), form=form)


@bp.route("/<int:group_id>", methods=["GET", "POST"])
@operator_required
def edit(group_id: int):
    """Change a group's name, multiplier, allowed models or per-user rate limits."""
    group = _group(group_id)
    if request.method == "POST":
        form = GroupForm()
        if form.validate_on_submit() and _save(form, group):
            flash(f"Saved group {form.name.data}.", "success")
            return redirect(url_for("groups.index"), code=303)
    else:
        form = GroupForm(
            formdata=None,
            name=group.name,
            allowed_models=", ".join(group.allowed_models or []),
            rpm_limit=group.rpm_limit,
            tpm_limit=group.tpm_limit,
        )
        form.multiplier.data = multiplier(group.multiplier_ppm).lstrip("×")
    return render_template("groups/edit.html", form=form, group=group)
