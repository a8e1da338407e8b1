"""GET /v1/models and /v1/models/{id}: the models a key may call, from the in-memory snapshot.

Under /api/v1 the list and the lookup also answer without a key (the public catalog, with
`?modality=` and `?provider=` filters); a key, when sent, is checked and narrows the list.
Ids contain "/"; SDKs send them percent-encoded and the server decodes them into the path.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.auth import authenticate, extract_key, may_use
from dataplane.billing import Caller
from dataplane.errors import model_not_found
from dataplane.gateway import Gateway
from dataplane.snapshot import ModelInfo
from shared.money import format_usd

JSON = "application/json"


def model_object(model: ModelInfo) -> dict[str, Any]:
    """The OpenAI Model object, plus Tollgate's public facts (prices per 1M tokens, in USD)."""
    owner = model.slug.split("/", 1)[0] if "/" in model.slug else "tollgate"
    prices = model.prices
    return {
        "id": model.slug,
        "object": "model",
        "created": model.created,
        "owned_by": owner,
        "modality": model.modality,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output_tokens,
        "pricing": {
            "input_per_1m": format_usd(prices.input),
            "cached_input_per_1m": format_usd(prices.cached),
            "output_per_1m": format_usd(prices.output),
        },
    }


async def _caller(request: Request, gateway: Gateway) -> Caller | None:
    """The caller; None only for the public catalog under /api/v1 when no key was sent."""
    if request.url.path.startswith("/api/") and extract_key(request.headers) is None:
        return None
    return await authenticate(request, gateway)


def _visible(gateway: Gateway, caller: Caller | None) -> list[ModelInfo]:
    models = [m for m in gateway.snapshot.models.values() if m.routes]
    if caller is not None:
        models = [m for m in models if may_use(caller, m.slug)]
    return sorted(models, key=lambda m: m.slug)


async def list_models(request: Request) -> Response:
    """GET /v1/models."""
    gateway: Gateway = request.state.gateway
    models = _visible(gateway, await _caller(request, gateway))
    modality = request.query_params.get("modality")
    provider = request.query_params.get("provider")
    if modality:
        models = [m for m in models if m.modality == modality]
    if provider:
        models = [m for m in models if any(r.provider.name == provider for r in m.routes)]
    body = {"object": "list", "data": [model_object(m) for m in models]}
    return Response(orjson.dumps(body), media_type=JSON)


async def get_model(request: Request) -> Response:
    """GET /v1/models/{model_id:path}: 404 model_not_found for ids the caller cannot see."""
    gateway: Gateway = request.state.gateway
    caller = await _caller(request, gateway)
    slug = request.path_params["model_id"]
    model = gateway.snapshot.models.get(slug)
    if model is None or not model.routes or (caller is not None and not may_use(caller, slug)):
        raise model_not_found(slug)
    return Response(orjson.dumps(model_object(model)), media_type=JSON)
