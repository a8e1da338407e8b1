"""The data plane's Starlette app: `uvicorn --factory dataplane.app:create_app`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dataplane import agent_docs, exposition, health_report, pipeline, status
from dataplane.access_log import AccessLogMiddleware
from dataplane.dialects.gemini import errors as family_errors
from dataplane.endpoints import REGISTRY, images, messages, models, responses
from dataplane.endpoints.base import ANTHROPIC, Endpoint
from dataplane.errors import GatewayError
from dataplane.front import Front, fixed_paths
from dataplane.gateway import Gateway
from dataplane.request_ids import RequestIdMiddleware, RequestIds
from shared import logs
from shared.db import db, init_db
from shared.settings import Settings

# "" serves the OpenAI paths un-prefixed too, for clients whose base URL lacks the /v1.
PREFIXES = ("/v1", "/api/v1", "")


YOUNG_GC_THRESHOLD = 100_000


def freeze_startup_objects() -> None:
    """Take everything alive after start-up (modules, caches, the snapshot) out of the cyclic GC's scans,
    and collect the young generation after 100,000 net allocations instead of 700.

    Under load every full collection walked some 70,000 long-lived objects and stopped the event
    loop for 30-50 ms, which set the p99 latency; frozen objects are never walked again. With
    2,000 streams open, the default thresholds also ran a collection every few hundred events,
    each walking the streams' live objects: 200-300 ms pauses every few seconds (+245 ms on the
    p99 gap between stream events in bench/, +31 ms with this threshold, +33 ms with the GC off),
    and 16 % of the CPU per stream. Cycles are still collected, just in larger batches.
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_GC_THRESHOLD, young), middle, old)


def _endpoint_route(path: str, endpoint: Endpoint) -> Route:
    async def serve(request: Request) -> Response:
        return await pipeline.handle(endpoint, request)  # type: ignore[return-value]

    serve.__name__ = f"{endpoint.name}_endpoint"
    return Route(path, serve, methods=["POST"])


def endpoint_paths() -> dict[str, Endpoint]:
    """Every path of every inference endpoint, under each API prefix."""
    paths = {}
    for endpoint in REGISTRY:
        # The Anthropic SDKs append /v1 themselves; /v1/v1 serves a base URL that already ends in /v1.
        prefixes = (*PREFIXES, "/v1/v1") if endpoint.family == ANTHROPIC else PREFIXES
        paths.update({prefix + path: endpoint for prefix in prefixes for path in endpoint.paths})
    return paths


def _routes(endpoints: dict[str, Endpoint]) -> list[Route]:
    routes = [
        Route("/api/status", status.status, methods=["GET"]),
        Route("/api/live", exposition.live, methods=["GET"]),
        Route("/api/ready", exposition.ready, methods=["GET"]),
        Route("/metrics", exposition.metrics, methods=["GET"]),
        Route("/v1/health/providers", health_report.providers_health, methods=["GET"]),
        Route("/api/v1/health/providers", health_report.providers_health, methods=["GET"]),
        Route("/llms.txt", agent_docs.get_llms_txt, methods=["GET"]),
        Route("/llms-full.txt", agent_docs.get_llms_full_txt, methods=["GET"]),
        Route("/openapi.json", agent_docs.get_openapi, methods=["GET"]),
    ]
    routes += [_endpoint_route(path, endpoint) for path, endpoint in endpoints.items()]
    for prefix in PREFIXES:
        routes += [
            Route(f"{prefix}/models", models.list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model_id:path}}", models.get_model, methods=["GET"]),
            Route(f"{prefix}/images/files/{{name}}", images.get_file, methods=["GET"]),
            Route(f"{prefix}/responses/{{response_id}}", responses.get_response, methods=["GET"]),
            Route(f"{prefix}/responses/{{response_id}}", responses.delete_response, methods=["DELETE"]),
            Route(
                f"{prefix}/responses/{{response_id}}/input_items", responses.get_input_items, methods=["GET"]
            ),
        ]
    for prefix in (*PREFIXES, "/v1/v1"):
        routes.append(Route(f"{prefix}/messages/count_tokens", messages.count_tokens, methods=["POST"]))
    return routes


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> Front:
    """Build the data plane. `transport` replaces the upstream HTTP transport (tests).

    The database proxy is initialised from the settings unless the caller already did.
    """
    settings = settings or Settings.from_env()
    logs.configure_dataplane(settings)
    if db.obj is None:
        init_db(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        gateway = Gateway(settings, transport)
        await gateway.start()
        freeze_startup_objects()
        try:
            yield {"gateway": gateway}
        finally:
            await gateway.stop()

    ids = RequestIds()
    endpoints = endpoint_paths()
    app = Starlette(
        routes=_routes(endpoints),
        middleware=[Middleware(RequestIdMiddleware, ids=ids), Middleware(AccessLogMiddleware)],
        exception_handlers={
            # Errors in OpenAI's shape, or in Anthropic's or Google's on those routes (Gemini's
            # handlers hand every other request on to Anthropic's, which hand on to OpenAI's).
            GatewayError: family_errors.gateway_error,
            HTTPException: family_errors.http_error,
            Exception: family_errors.unexpected_error,
        },
        lifespan=lifespan,
    )
    return Front(app, fixed_paths(endpoints), ids)
