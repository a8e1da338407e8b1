"""The bare pass-through the gateway is measured against: Starlette and the gateway's own HTTP
client (httpx on the aiohttp transport), no auth, no billing, no routing.

`POST /v1/chat/completions` is forwarded to `BENCH_UPSTREAM_URL` as it came (the client's bearer
token too) and the answer relayed as it arrives; `GET /live` answers at once (the event-loop probe).
Every figure of the gateway is shown beside this one's, so the table is also a ratio: what auth,
holds, routing, metering and settlement cost on top of the same server and client.

    BENCH_UPSTREAM_URL=http://127.0.0.1:9000 uvicorn --factory bench.passthrough:create_app
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dataplane.gateway import default_transport

FORWARDED = ("authorization", "content-type")


def create_app() -> Starlette:
    """The pass-through app, on one client made at start-up."""
    upstream = os.environ["BENCH_UPSTREAM_URL"].rstrip("/")
    holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=default_transport(), timeout=httpx.Timeout(60.0)) as client:
            holder["client"] = client
            # Start-up objects out of the GC's scans, as a careful server does; the gateway's larger
            # young-generation threshold is its own tuning (with it this app's p99 grows: it leaves
            # more cyclic garbage per request, freed in bigger batches).
            gc.collect()
            gc.freeze()
            yield

    async def chat(request: Request) -> Response:
        client = holder["client"]
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        sent = client.build_request("POST", upstream + "/v1/chat/completions", headers=headers,
                                    content=await request.body())  # fmt: skip
        answer = await client.send(sent, stream=True)
        kind = answer.headers.get("content-type", "application/json")
        if kind.startswith("text/event-stream"):
            return StreamingResponse(
                answer.aiter_raw(),
                answer.status_code,
                media_type=kind,
                background=BackgroundTask(answer.aclose),
            )
        body = await answer.aread()
        return Response(body, answer.status_code, media_type=kind)

    async def live(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [Route("/v1/chat/completions", chat, methods=["POST"]), Route("/live", live)]
    return Starlette(routes=routes, lifespan=lifespan)
