"""Docs and quick start: the base URL and ready-to-copy snippets for every endpoint, each filled in
with a model of the endpoint's modality that the viewer may call (or a placeholder when there is none),
and the setup wizard: pick a tool (console/agent_setups.py), pick one of its models, copy its config,
and test a key with a one-token call (console/key_probe.py).

`?tool=` and `?model=` choose; htmx swaps the page's body for the same URL's fragment, so every
snippet changes at once and a link without JavaScript shows the same page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from console import agent_setups, key_probe
from console.htmx import is_partial, render_page
from console.viewers import viewer_group
from shared.catalog import MODALITIES
from shared.catalog_admin import visible_models
from shared.models import ApiKey, CatalogModel
from shared.settings import Settings

bp = Blueprint("docs", __name__, url_prefix="/docs")

ERRORS = [
    (400, "invalid_request_error", _l("A parameter is missing or wrong; `param` names it."),
     _l("Fix the request body.")),
    (401, "invalid_api_key", _l("The key is missing, wrong, revoked or expired."),
     _l("Send `Authorization: Bearer <key>` with an active key from the API keys page.")),
    (402, "insufficient_quota", _l("Your balance cannot cover the request."),
     _l("Top up your balance on the Billing page, or lower max_tokens.")),
    (403, "model_not_allowed",
     _l("The key or your group may not use this model, or the key hit its spend cap."),
     _l("Pick a model listed on the Models page, or edit the key's allowed models and cap.")),
    (404, "model_not_found", _l("No model with this id."),
     _l("Copy the id from the Models page or GET /v1/models.")),
    (429, "rate_limit_exceeded", _l("Too many requests or tokens per minute."),
     _l("Wait for the Retry-After header's seconds; the SDKs retry automatically.")),
    (500, "server_error / upstream_error",
     _l("The gateway or every provider for the model failed (502, 503, 504)."),
     _l("Retry with backoff; the Status page shows provider health.")),
]  # fmt: skip


# What a snippet says when the catalogue has no model of its modality.
PLACEHOLDERS = {
    "chat": "MODEL_ID", "embedding": "EMBEDDING_MODEL_ID", "image": "IMAGE_MODEL_ID",
    "transcription": "TRANSCRIPTION_MODEL_ID", "speech": "SPEECH_MODEL_ID",
    "moderation": "MODERATION_MODEL_ID", "rerank": "RERANK_MODEL_ID",
}  # fmt: skip


# The quick-start sections (templates/docs/sections/) that show how to call a model of each modality.
SECTIONS = {
    "chat": ("chat", "streaming"), "embedding": ("embedding",), "image": ("image",),
    "transcription": ("audio",), "speech": ("audio",), "moderation": ("moderation",), "rerank": ("rerank",),
}  # fmt: skip


def error_table() -> list[tuple[int, str, str, str]]:
    """The error table in the visitor's language, as plain text (so its `<key>` is escaped like any text)."""
    return [(status, code, str(meaning), str(fix)) for status, code, meaning, fix in ERRORS]


def examples(models: Sequence[CatalogModel], wanted: str) -> dict[str, str]:
    """The model each modality's snippets use: `wanted` for its own modality, else the first one.

    `ocr` is the chat model that reads images: `wanted` or the first chat model with `vision`.
    """
    chosen: dict[str, str] = {m.modality: m.slug for m in models if m.slug == wanted}
    for m in models:
        chosen.setdefault(m.modality, m.slug)
    picked = {modality: chosen.get(modality, PLACEHOLDERS[modality]) for modality in MODALITIES}
    seeing = [m.slug for m in models if m.modality == "chat" and "vision" in (m.capabilities or [])]
    picked["ocr"] = wanted if wanted in seeing else (seeing[0] if seeing else picked["chat"])
    return picked


def key_hint(settings: Settings) -> str:
    """The key snippets show: the start of the signed-in customer's newest key, else the prefix."""
    if current_user.is_authenticated:
        newest = (
            ApiKey.select()
            .where((ApiKey.user == current_user.row.id) & ApiKey.revoked_at.is_null())
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            .first()
        )
        if newest is not None:
            return newest.prefix.rstrip("…") + "..."
    return settings.key_prefix + "..."


def snippet_context(models: Sequence[CatalogModel], wanted: str) -> dict[str, Any]:
    """What the snippet sections read: the example models, the gateway's URL and a key hint."""
    example = examples(models, wanted)
    settings = current_app.config["TOLLGATE"]
    return {
        "example": example,
        "model": example["chat"],
        "embedding_model": example["embedding"],
        "gateway_url": settings.public_base_url,
        "key_hint": key_hint(settings),
    }


def wizard_context(models: Sequence[CatalogModel], tool: str | None, wanted: str) -> dict[str, Any]:
    """What the setup wizard reads: the tool, the models it may use as tags, and the one chosen."""
    setup = agent_setups.setup_named(tool)
    options = agent_setups.usable(setup, models)
    picked = agent_setups.chosen(options, wanted)
    small = agent_setups.cheapest(options)
    return {
        "setup": setup,
        "setup_groups": agent_setups.groups(),
        "setup_models": options,
        "setup_model": picked,
        "tool_model": picked.slug if picked else PLACEHOLDERS["chat"],
        "small_model": small.slug if small else PLACEHOLDERS["chat"],
        "wire": key_probe.WIRES[setup.wire],
        "key_test_timeout_s": key_test_timeout_s(),
    }


def key_test_timeout_s() -> float:
    """How long "Test my key" waits for the gateway (tests set KEY_TEST_TIMEOUT_S to wait less)."""
    return float(current_app.config.get("KEY_TEST_TIMEOUT_S", key_probe.TIMEOUT_S))


def page(tool: str | None, wanted: str, outcome: key_probe.Outcome | None = None):
    """The Docs page (or, for htmx, its body) for `tool` and the `wanted` model."""
    models = list(visible_models(viewer_group()))
    return render_page(
        "docs/index.html",
        "docs/_body.html",
        models=models,
        errors=error_table(),
        outcome=outcome,
        **snippet_context(models, wanted),
        **wizard_context(models, tool, wanted),
    )


@bp.get("")
def index():
    """Quick start snippets for every endpoint (curl, Python, Node), the error table, and agent/IDE setup."""
    return page(request.args.get("tool"), request.args.get("model") or "")


@bp.post("/test-key")
@login_required
def test_key():
    """Make a one-token call through the data plane with a pasted key; show the reply and its charge.

    The key is used for this call only: never stored, logged or sent back in the page.
    """
    tool, model = request.form.get("tool"), (request.form.get("model") or "").strip()[:200]
    setup = agent_setups.setup_named(tool)
    key = (request.form.get("key") or "").strip()
    problem = key_probe.check_key(key) or ("" if model else _("Pick a model first."))
    if problem:
        outcome = key_probe.refused(setup.wire, model, problem)
    else:
        base_url = current_app.config["TOLLGATE"].public_base_url
        outcome = key_probe.probe(base_url, setup.wire, model, key, key_test_timeout_s())
    if is_partial():
        return render_page("docs/index.html", "docs/_key_test.html", outcome=outcome)
    return page(setup.name, model, outcome)
