"""OpenAI-compatible providers: the body passes through; only `model` (and billing's fields) change."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from dataplane.snapshot import RouteInfo
from shared.money import TokenUsage

USER_AGENT = "tollgate/0.1"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class OpenAIUpstream:
    """An upstream that speaks the OpenAI API (OpenAI itself, vLLM, OpenRouter, ...)."""

    def __init__(self, connect_timeout_s: float) -> None:
        self.connect_timeout_s = connect_timeout_s

    def _request(
        self, client: httpx.AsyncClient, route: RouteInfo, path: str, body: dict[str, Any], request_id: str
    ) -> httpx.Request:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
            "x-request-id": request_id,
        }
        if route.provider.api_key:
            headers["authorization"] = "Bearer " + route.provider.api_key
        body["model"] = route.upstream_model
        return client.build_request(
            "POST",
            route.provider.base_url + path,
            content=orjson.dumps(body),
            headers=headers,
            timeout=httpx.Timeout(route.provider.timeout_s, connect=self.connect_timeout_s),
        )

    def chat_request(
        self, client: httpx.AsyncClient, route: RouteInfo, body: dict[str, Any], request_id: str
    ) -> httpx.Request:
        return self._request(client, route, "/chat/completions", body, request_id)

    def embeddings_request(
        self, client: httpx.AsyncClient, route: RouteInfo, body: dict[str, Any], request_id: str
    ) -> httpx.Request:
        return self._request(client, route, "/embeddings", body, request_id)

    def usage(self, payload: dict[str, Any]) -> TokenUsage | None:
        usage = payload.get("usage")
        if not isinstance(usage, dict):
            return None
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if prompt is None and completion is None:
            return None
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return TokenUsage(
            prompt_tokens=_int(prompt),
            completion_tokens=_int(completion),
            cached_tokens=_int(
                prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else 0
            ),
            reasoning_tokens=_int(
                completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else 0
            ),
        )
