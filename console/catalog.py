"""Models and prices: public (buyers compare before signing up), narrowed to a customer's group."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from console.htmx import render_page
from shared.accounts import DEFAULT_GROUP
from shared.catalog import MODALITIES
from shared.catalog_admin import visible_models
from shared.models import Group

bp = Blueprint("catalog", __name__, url_prefix="/models")


def viewer_group() -> Group | None:
    """The signed-in customer's group, or the default group for visitors (None if not made yet)."""
    if current_user.is_authenticated:
        return current_user.row.group
    return Group.get_or_none(Group.name == DEFAULT_GROUP)


@bp.get("")
def index():
    """Every model the viewer may use, with its price per meter and capabilities; filtered as you type."""
    group = viewer_group()
    q = (request.args.get("q") or "").strip()[:200]
    modality = request.args.get("modality") or ""
    if modality not in MODALITIES:
        modality = ""
    models = list(visible_models(group, q, modality))
    ppm = group.multiplier_ppm if group else 1_000_000
    return render_page(
        "catalog/index.html", "catalog/_table.html", models=models, q=q, modality=modality, ppm=ppm
    )
