"""Models and prices: public (buyers compare before signing up), narrowed to a customer's group.

The index shows one platform's catalogue (intl unless switched, as a key's platform decides what it
sees), filters by type, capability, provider, name and a price ceiling and sorts like the public
catalogue (`/api/v1/models`), as a plain GET form that htmx refreshes in place; each model has a
page of its own with its prices, limits and the snippets to call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import Blueprint, abort, render_template, request
from werkzeug.datastructures import MultiDict

from console.docs import SECTIONS, snippet_context
from console.htmx import render_page
from console.viewers import viewer_group
from shared.catalog import CAPABILITIES, MODALITIES
from shared.catalog_admin import visible_models
from shared.model_facts import DEFAULT_ORDER, ORDERS, SORTS, io_modalities, providers_by_model, split_values
from shared.models import CatalogModel
from shared.money import PPM, AmountError, ceil_div, parse_usd
from shared.platforms import DEFAULT_PLATFORM, LABELS, PLATFORMS, offered_on

bp = Blueprint("catalog", __name__, url_prefix="/models")
SORT_LABELS = {"slug": "Name", "price": "Input price", "context": "Context length", "newest": "Newest"}


@dataclass
class Filters:
    """The Models page's filters as the form sent them; values that mean nothing are dropped."""

    q: str = ""
    modality: str = ""
    provider: str = ""
    capabilities: list[str] = field(default_factory=list)
    max_price: str = ""
    sort: str = "slug"
    order: str = "asc"
    platform: str = DEFAULT_PLATFORM
    ceiling: int | None = None  # nano-USD per 1M input tokens
    error: str = ""

    @classmethod
    def read(cls, args: MultiDict) -> Filters:
        sort = args.get("sort") if args.get("sort") in SORTS else "slug"
        order = args.get("order") if args.get("order") in ORDERS else DEFAULT_ORDER[sort]
        filters = cls(
            q=(args.get("q") or "").strip()[:200],
            modality=args.get("modality") if args.get("modality") in MODALITIES else "",
            provider=(args.get("provider") or "").strip()[:64],
            capabilities=[c for c in split_values(args.getlist("capability")) if c in CAPABILITIES],
            max_price=(args.get("max_price") or "").strip()[:32],
            sort=sort,
            order=order,
            platform=args.get("platform") if args.get("platform") in PLATFORMS else DEFAULT_PLATFORM,
        )
        if filters.max_price:
            try:
                filters.ceiling = parse_usd(filters.max_price.removeprefix("$"))
            except AmountError:
                filters.error = f"“{filters.max_price}” is not a price in USD; the ceiling is ignored."
        return filters


def _input_price(model: CatalogModel, ppm: int) -> int:
    return ceil_div(int((model.prices or {}).get("input", 0)) * ppm, PPM)


def _choose(
    models: Sequence[CatalogModel], filters: Filters, providers: dict[int, list[str]], ppm: int
) -> list[CatalogModel]:
    """The models that pass every filter (prices as the viewer pays them), sorted."""
    chosen = [
        m
        for m in models
        if filters.platform in offered_on(m.platforms)
        and (not filters.provider or filters.provider in providers.get(m.id, []))
        and all(c in (m.capabilities or []) for c in filters.capabilities)
        and (filters.ceiling is None or _input_price(m, ppm) <= filters.ceiling)
    ]
    keys = {
        "slug": lambda m: m.slug,
        "price": lambda m: (_input_price(m, ppm), m.slug),
        "context": lambda m: (m.context_length or 0, m.slug),
        "newest": lambda m: (m.created_at, m.slug),
    }
    return sorted(chosen, key=keys[filters.sort], reverse=filters.order == "desc")


def _ppm() -> int:
    group = viewer_group()
    return group.multiplier_ppm if group else PPM


@bp.get("")
def index():
    """Every model the viewer may use, with its price per meter and capabilities; filtered as you type."""
    filters = Filters.read(request.args)
    every = list(visible_models(viewer_group(), filters.q, filters.modality))
    providers = providers_by_model(m.id for m in every)
    every_provider = sorted({name for names in providers.values() for name in names})
    ppm = _ppm()
    models = _choose(every, filters, providers, ppm)
    return render_page(
        "catalog/index.html",
        "catalog/_table.html",
        models=models,
        filters=filters,
        providers=providers,
        provider_names=every_provider,
        capability_names=CAPABILITIES,
        sort_labels=SORT_LABELS,
        platform_labels=LABELS,
        ppm=ppm,
    )


@bp.get("/<path:slug>")
def detail(slug: str):
    """One model: its prices as the viewer pays them, limits, capabilities and snippets to call it."""
    models = list(visible_models(viewer_group()))
    model = next((m for m in models if m.slug == slug), None)
    if model is None:
        abort(404)
    inputs, outputs = io_modalities(model.modality, model.capabilities or [])
    return render_template(
        "catalog/detail.html",
        m=model,
        inputs=inputs,
        outputs=outputs,
        providers=providers_by_model([model.id]).get(model.id, []),
        sections=SECTIONS.get(model.modality, ()),
        ppm=_ppm(),
        **snippet_context(models, slug),
    )
