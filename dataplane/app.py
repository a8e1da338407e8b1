"""The data plane's Starlette app: `uvicorn --factory dataplane.app:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from dataplane import catalog, relay, status
from dataplane.errors import GatewayError, gateway_error, http_error, unexpected_error
from dataplane.gateway import Gateway
from dataplane.request_ids import RequestIdMiddleware
from shared.db import db, init_db
from shared.settings import Settings

# "" serves the OpenAI paths un-prefixed too, for clients whose base URL lacks the /v1.
PREFIXES = ("/v1", "/api/v1", "")


def _routes() -> list[Route]:
    routes = [Route("/api/status", status.status, methods=["GET"])]
    for prefix in PREFIXES:
        routes += [
            Route(f"{prefix}/chat/completions", relay.chat_completions, methods=["POST"]),
            Route(f"{prefix}/embeddings", relay.embeddings, methods=["POST"]),
            Route(f"{prefix}/models", catalog.list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model_id:path}}", catalog.get_model, methods=["GET"]),
        ]
    return routes


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """Build the data plane. `transport` replaces the upstream HTTP transport (tests).

    The database proxy is initialised from the settings unless the caller already did.
    """
    settings = settings or Settings.from_env()
    if db.obj is None:
        init_db(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Gateway]]:
        gateway = Gateway(settings, transport)
        await gateway.start()
        try:
            yield {"gateway": gateway}
        finally:
            await gateway.stop()

    return Starlette(
        routes=_routes(),
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            GatewayError: gateway_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
