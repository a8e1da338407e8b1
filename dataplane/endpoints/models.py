"""GET /v1/models and /v1/models/{id}: the models a key may call, from the in-memory snapshot.

In OpenAI's shape, or in Anthropic's paged shape when the request has `anthropic-version`
(PROTOCOL §4.2).

Under /api/v1 the list and the lookup also answer without a key (the public catalog); a key, when
sent, is checked and narrows the list. Both lists take the catalogue's filters and sort
(`?modality=`, `?provider=`, `?capability=`, `?q=`, `?max_price=`, `?sort=`, `?order=`; see
dataplane/catalogue.py). Each key sees its platform's catalogue; without a key, `X-Platform`
chooses it (dataplane/platform_header.py).
Ids contain "/"; SDKs send them percent-encoded and the server decodes them into the path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate, extract_key, may_use
from dataplane.billing import Caller
from dataplane.catalogue import model_object, parse_query, select
from dataplane.errors import bad_request, model_not_found
from dataplane.gateway import Gateway
from dataplane.platform_header import VARY, public_platform
from dataplane.snapshot import ModelInfo

JSON = "application/json"
MAX_PAGE = 1000


async def _caller(request: Request, gateway: Gateway) -> Caller | None:
    """The caller; None only for the public catalog under /api/v1 when no key was sent."""
    if request.url.path.startswith("/api/") and extract_key(request.headers) is None:
        return None
    return await authenticate(request, gateway)


def _platform(request: Request, caller: Caller | None) -> str:
    """The catalogue shown: the key's platform, else the public `X-Platform` (default intl)."""
    return caller.key.platform if caller is not None else public_platform(request.headers)


def _sees(model: ModelInfo | None, caller: Caller | None, platform: str) -> bool:
    """Whether the model is routed, on the platform's catalogue and allowed to the caller (if any)."""
    return (
        model is not None
        and bool(model.routes)
        and platform in model.platforms
        and (caller is None or may_use(caller, model.slug))
    )


def _visible(gateway: Gateway, caller: Caller | None, platform: str) -> list[ModelInfo]:
    models = [m for m in gateway.snapshot.models.values() if _sees(m, caller, platform)]
    return sorted(models, key=lambda m: m.slug)


async def list_openai_models(request: Request) -> Response:
    """GET /v1/models in OpenAI's shape, filtered and sorted per dataplane/catalogue.py."""
    gateway: Gateway = request.state.gateway
    caller = await _caller(request, gateway)  # 401 before any 400 on a filter
    visible = _visible(gateway, caller, _platform(request, caller))
    models = select(visible, parse_query(request.query_params))
    body = {"object": "list", "data": [model_object(m, gateway.health) for m in models]}
    return Response(orjson.dumps(body), media_type=JSON, headers=VARY)


async def get_openai_model(request: Request) -> Response:
    """GET /v1/models/{model_id:path} in OpenAI's shape: 404 model_not_found for ids the caller cannot see."""
    gateway: Gateway = request.state.gateway
    caller = await _caller(request, gateway)
    slug = request.path_params["model_id"]
    model = gateway.snapshot.models.get(slug)
    if not _sees(model, caller, _platform(request, caller)):
        raise model_not_found(slug)
    return Response(orjson.dumps(model_object(model, gateway.health)), media_type=JSON, headers=VARY)


def _model_object(model: ModelInfo) -> dict[str, Any]:
    created = dt.datetime.fromtimestamp(model.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "model",
        "id": model.slug,
        "display_name": model.slug,
        "created_at": created,
        "max_input_tokens": model.context_length,
        "max_tokens": model.max_output_tokens,
    }


def _page_size(request: Request) -> int:
    value = request.query_params.get("limit", "20")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise bad_request("limit", f"limit: must be an integer from 1 to {MAX_PAGE}.")
    return int(value)


def _page(request: Request, slugs: list[str]) -> tuple[list[str], bool]:
    """One page of `slugs` per `after_id` / `before_id` / `limit`, and whether more exist."""
    limit = _page_size(request)
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    if before:
        end = slugs.index(before) if before in slugs else len(slugs)
        return slugs[max(end - limit, 0) : end], end - limit > 0
    start = slugs.index(after) + 1 if after and after in slugs else 0
    return slugs[start : start + limit], start + limit < len(slugs)


async def list_models(request: Request) -> Response:
    """GET /v1/models: Anthropic's paged shape when the request has `anthropic-version`, else OpenAI's."""
    if "anthropic-version" not in request.headers:
        return await list_openai_models(request)
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    models = gateway.snapshot.models
    slugs = [m.slug for m in _visible(gateway, caller, caller.key.platform)]
    page, more = _page(request, slugs)
    body = {
        "data": [_model_object(models[s]) for s in page],
        "has_more": more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
    return Response(orjson.dumps(body), media_type=JSON)


async def get_model(request: Request) -> Response:
    """GET /v1/models/{id}: Anthropic's shape when the request has `anthropic-version`."""
    if "anthropic-version" not in request.headers:
        return await get_openai_model(request)
    gateway: Gateway = request.state.gateway
    caller = await authenticate(request, gateway)
    slug = request.path_params["model_id"]
    model = gateway.snapshot.models.get(slug)
    if not _sees(model, caller, caller.key.platform):
        raise model_not_found(slug)
    return Response(orjson.dumps(_model_object(model)), media_type=JSON)
