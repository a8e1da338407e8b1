"""Who is calling: the API key from the headers, checked against the in-memory key cache.

Keys come from `Authorization: Bearer`, then `x-api-key`, then `api-key`, then `x-goog-api-key`;
on the Gemini routes also from the `?key=` query parameter, as Google's API takes it. Console
login sessions (cookies) are never looked at here.
"""

from __future__ import annotations

from peewee import DatabaseError, InterfaceError
from starlette.datastructures import Headers
from starlette.requests import Request

from dataplane.billing import Caller
from dataplane.errors import (
    bad_request,
    invalid_api_key,
    model_not_found,
    permission_denied,
    service_unavailable,
)
from dataplane.gateway import Gateway
from dataplane.platform_header import check_key_platform
from dataplane.snapshot import ModelInfo
from shared.models import utcnow


def extract_key(headers: Headers) -> str | None:
    """The API key a client sent, if any."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or headers.get("api-key") or headers.get("x-goog-api-key") or None


async def authenticate(request: Request, gateway: Gateway) -> Caller:
    """The caller behind the request's key: 401 if missing, unknown, revoked or expired; 403 if disabled."""
    secret = extract_key(request.headers)
    if not secret and request.scope["state"].get("family") == "gemini":
        secret = request.query_params.get("key")
    if not secret:
        raise invalid_api_key("You didn't provide an API key. Send it as `Authorization: Bearer <key>`.")
    try:
        entry = await gateway.keyring.lookup(secret)
    except (DatabaseError, InterfaceError) as exc:
        raise service_unavailable("The key database is unavailable; try again shortly.") from exc
    info = entry.info
    if info is None or info.revoked:
        raise invalid_api_key("Incorrect API key provided.")
    if info.expires_at is not None and info.expires_at <= utcnow():
        raise invalid_api_key("This API key has expired.")
    if info.user_status != "active":
        raise permission_denied("This account is disabled.", code="account_disabled")
    check_key_platform(request.headers, info.platform)
    state = request.scope["state"]
    state["key_id"] = info.id  # for the request's log line (dataplane/access_log.py)
    return Caller(entry, info, info.group, state["request_id"], state.get("client_request_id"))


def may_use(caller: Caller, slug: str) -> bool:
    """Whether the caller's key and group both allow the model."""
    key_allowed = caller.key.allowed_models
    group_allowed = caller.group.allowed_models
    return (key_allowed is None or slug in key_allowed) and (group_allowed is None or slug in group_allowed)


# Where a model of each modality is called, for the error that names the right endpoint.
MODALITY_PATHS = {
    "chat": "/v1/chat/completions",
    "embedding": "/v1/embeddings",
    "image": "/v1/images/generations",
    "transcription": "/v1/audio/transcriptions",
    "speech": "/v1/audio/speech",
    "moderation": "/v1/moderations",
    "rerank": "/v1/rerank",
}


def resolve_model(gateway: Gateway, caller: Caller, slug: str, modality: str | tuple[str, ...]) -> ModelInfo:
    """The catalog model the caller asked for: 404 if unknown, unrouted or not offered on the key's
    platform (the same answer, so a regional catalogue never tells what the other offers), 403 if
    not allowed.

    `modality` is what the endpoint serves (one, or several); another modality is a 400 that
    names the endpoint for it.
    """
    model = gateway.snapshot.models.get(slug)
    if model is None or not model.routes or caller.key.platform not in model.platforms:
        raise model_not_found(slug)
    if not may_use(caller, slug):
        raise permission_denied(f"This API key may not use the model `{slug}`.")
    if model.modality not in ((modality,) if isinstance(modality, str) else modality):
        endpoint = MODALITY_PATHS.get(model.modality, "/v1/chat/completions")
        raise bad_request("model", f"`{slug}` is a {model.modality} model: call {endpoint} instead.")
    return model
