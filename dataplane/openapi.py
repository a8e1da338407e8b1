"""`GET /openapi.json`: an OpenAPI 3.1 document of the live routes, built from the endpoint registry
and the catalogue (each endpoint's `model` lists the enabled models of its modality on the
platform the request's `X-Platform` names, intl by default). Every operation documents that header.

Schemas are deliberately loose (objects that allow more fields): they name the model and the
error shape, which is what a client or an agent needs to pick a call; PROTOCOL.md has the rest.
"""

from __future__ import annotations

import re
from typing import Any

from dataplane.dialects.gemini.errors import GEMINI
from dataplane.endpoints import REGISTRY
from dataplane.endpoints.base import ANTHROPIC, Endpoint
from dataplane.snapshot import Snapshot
from shared.catalog import MODALITIES
from shared.platforms import DEFAULT_PLATFORM, PLATFORMS

API_PREFIX = "/v1"
CONVERTER_RE = re.compile(r"\{(\w+):\w+\}")  # Starlette's "{model:path}" is OpenAPI's "{model}"
BYTES_REPLY = {"speech"}  # endpoints whose reply is the upstream's bytes (audio)
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}
OBJECT = {"type": "object", "additionalProperties": True}
PLATFORM_PARAMETER = {
    "name": "X-Platform",
    "in": "header",
    "required": False,
    "description": "The regional catalogue. With a key it may only repeat the key's platform (else 400"
    " platform_mismatch); without one it chooses the public catalogue (default intl). Any other value"
    " is a 400 invalid_platform.",
    "schema": {"type": "string", "enum": list(PLATFORMS)},
}
PLATFORM_REF = {"$ref": "#/components/parameters/Platform"}
PUBLIC: list[dict[str, list[str]]] = []  # no security requirement


def modalities_of(endpoint: Endpoint) -> tuple[str, ...]:
    """The catalogue modalities an endpoint serves (`Endpoint.modality` is a str or a tuple)."""
    modality = endpoint.modality
    return (modality,) if isinstance(modality, str) else tuple(modality)


def openapi_path(path: str) -> str:
    """A route path as OpenAPI writes it, under /v1, with "{model:path}" written "{model}"."""
    return API_PREFIX + CONVERTER_RE.sub(r"{\1}", path)


def _model_schema(snapshot: Snapshot, modalities: tuple[str, ...], platform: str) -> dict[str, Any]:
    slugs = sorted(
        s
        for s, m in snapshot.models.items()
        if m.routes and m.modality in modalities and platform in m.platforms
    )
    schema: dict[str, Any] = {"type": "string", "description": "A model id from GET /v1/models."}
    if slugs:
        schema["enum"] = slugs
    return schema


def _multipart(endpoint: Endpoint) -> bool:
    return type(endpoint).read is not Endpoint.read and endpoint.family not in (ANTHROPIC, GEMINI)


def _request_body(endpoint: Endpoint, model: dict[str, Any]) -> dict[str, Any]:
    if _multipart(endpoint):
        properties = {
            "model": model,
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        }
        return {
            "required": True,
            "content": {"multipart/form-data": {"schema": {**OBJECT, "properties": properties}}},
        }
    properties = {} if endpoint.family == GEMINI else {"model": model}
    return {
        "required": True,
        "content": {"application/json": {"schema": {**OBJECT, "properties": properties}}},
    }


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.name in BYTES_REPLY:
        ok = {"description": "The generated audio.", "content": {"application/octet-stream": {}}}
    else:
        ok = {
            "description": "The reply (or, with `stream`, server-sent events).",
            "content": {"application/json": {"schema": OBJECT}, "text/event-stream": {}},
        }
    error = {
        "description": "An error.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    return {"200": ok, "default": error}


def _operation(endpoint: Endpoint, path: str, snapshot: Snapshot, platform: str) -> dict[str, Any]:
    model = _model_schema(snapshot, modalities_of(endpoint), platform)
    operation: dict[str, Any] = {
        "operationId": "post" + re.sub(r"\W+", "_", path).rstrip("_"),
        "summary": f"{endpoint.name} ({', '.join(modalities_of(endpoint))} models)",
        "requestBody": _request_body(endpoint, model),
        "responses": _responses(endpoint),
    }
    operation["parameters"] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": model if name == "model" else {"type": "string"},
        }
        for name in re.findall(r"\{(\w+)\}", path)
    ] + [PLATFORM_REF]
    return operation


def _catalogue_paths() -> dict[str, Any]:
    listed = {"description": "The models.", "content": {"application/json": {"schema": OBJECT}}}
    slug = [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("modality", "provider", "capability", "q", "max_price", "sort", "order")
    ]
    paths = {}
    for prefix, security in ((API_PREFIX, None), ("/api/v1", PUBLIC)):
        name = prefix.strip("/").replace("/", "_")
        listing: dict[str, Any] = {
            "operationId": f"list_models_{name}",
            "parameters": [*filters, PLATFORM_REF],
        }
        lookup: dict[str, Any] = {"operationId": f"get_model_{name}", "parameters": [*slug, PLATFORM_REF]}
        for operation in (listing, lookup):
            operation["responses"] = {"200": listed}
            if security is not None:
                operation["security"] = security
        paths[f"{prefix}/models"] = {"get": listing}
        paths[f"{prefix}/models/{{model_id}}"] = {"get": lookup}
    return paths


def document(snapshot: Snapshot, base_url: str, platform: str = DEFAULT_PLATFORM) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every POST route of the registry and the model catalogue, with
    the models of `platform`."""
    paths: dict[str, Any] = _catalogue_paths()
    for endpoint in REGISTRY:
        for path in endpoint.paths:
            paths[openapi_path(path)] = {"post": _operation(endpoint, openapi_path(path), snapshot, platform)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tollgate API",
            "version": str(snapshot.version),
            "description": f"Modalities: {', '.join(MODALITIES)}. Models and prices: GET /api/v1/models.",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
            "parameters": {"Platform": PLATFORM_PARAMETER},
        },
        "paths": paths,
    }
