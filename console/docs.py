"""Docs and quick start: the base URL and ready-to-copy snippets for every endpoint, each filled in
with a model of the endpoint's modality that the viewer may call (or a placeholder when there is none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, current_app, render_template, request

from console.viewers import viewer_group
from shared.catalog import MODALITIES
from shared.catalog_admin import visible_models
from shared.models import CatalogModel

bp = Blueprint("docs", __name__, url_prefix="/docs")

ERRORS = [
    (400, "invalid_request_error", "A parameter is missing or wrong; `param` names it.",
     "Fix the request body."),
    (401, "invalid_api_key", "The key is missing, wrong, revoked or expired.",
     "Send `Authorization: Bearer <key>` with an active key from the API keys page."),
    (402, "insufficient_quota", "Your balance cannot cover the request.",
     "Top up your balance on the Billing page, or lower max_tokens."),
    (403, "model_not_allowed", "The key or your group may not use this model, or the key hit its spend cap.",
     "Pick a model listed on the Models page, or edit the key's allowed models and cap."),
    (404, "model_not_found", "No model with this id.", "Copy the id from the Models page or GET /v1/models."),
    (429, "rate_limit_exceeded", "Too many requests or tokens per minute.",
     "Wait for the Retry-After header's seconds; the SDKs retry automatically."),
    (500, "server_error / upstream_error",
     "The gateway or every provider for the model failed (502, 503, 504).",
     "Retry with backoff; the Status page shows provider health."),
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


def snippet_context(models: Sequence[CatalogModel], wanted: str) -> dict[str, Any]:
    """What the snippet sections read: the example models, the gateway's URL and a key hint."""
    example = examples(models, wanted)
    settings = current_app.config["TOLLGATE"]
    return {
        "example": example,
        "model": example["chat"],
        "embedding_model": example["embedding"],
        "gateway_url": settings.public_base_url,
        "key_hint": settings.key_prefix + "...",
    }


@bp.get("")
def index():
    """Quick start snippets for every endpoint (curl, Python, Node), the error table, and agent/IDE setup."""
    models = list(visible_models(viewer_group()))
    context = snippet_context(models, request.args.get("model") or "")
    return render_template("docs/index.html", models=models, errors=ERRORS, **context)
