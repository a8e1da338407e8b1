"""`POST /v1/detections`: object detection, which only a provider that serves it natively could do.

No provider kind serves detections (shared/provider_kinds.py), and a chat model asked for boxes
would make them up, so the gateway says so: a 404 in OpenAI's error shape, after the key is
checked. When a kind gains native detections, this becomes a pass-through endpoint like
moderations.py.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from dataplane.endpoints.base import Call, Endpoint
from dataplane.errors import GatewayError
from shared.settings import Settings


def not_served() -> GatewayError:
    return GatewayError(
        404,
        "No provider on this gateway serves object detection (/v1/detections).",
        code="endpoint_not_served",
    )


class Detections(Endpoint):
    name = "detections"
    paths = ("/detections",)
    translatable = False

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        """Refused before the body is read: whatever was uploaded, nobody could look at it."""
        raise not_served()

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        raise not_served()


ENDPOINT = Detections()
