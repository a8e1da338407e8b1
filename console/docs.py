"""Docs and quick start: the base URL and ready-to-copy snippets filled in with a chosen model."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from console.catalog import viewer_group
from shared.catalog_admin import visible_models

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


@bp.get("")
def index():
    """Quick start snippets for curl, Python and Node, the error table, and agent/IDE setup."""
    models = list(visible_models(viewer_group()))
    chat = [m for m in models if m.modality == "chat"]
    embedding = [m for m in models if m.modality == "embedding"]
    wanted = request.args.get("model") or ""
    selected = next((m.slug for m in chat if m.slug == wanted), chat[0].slug if chat else "MODEL_ID")
    settings = current_app.config["TOLLGATE"]
    return render_template(
        "docs/index.html",
        models=chat,
        model=selected,
        embedding_model=embedding[0].slug if embedding else "EMBEDDING_MODEL_ID",
        gateway_url=settings.public_base_url,
        key_hint=settings.key_prefix + "...",
        errors=ERRORS,
    )
