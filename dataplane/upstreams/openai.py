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
        # Parsed URLs and timeouts per provider: httpx's URL parsing is a noticeable cost per request.
        self._urls: dict[str, httpx.URL] = {}
        self._timeouts: dict[float, dict[str, float]] = {}

    def _url(self, base_url: str, path: str) -> httpx.URL:
        url = self._urls.get(base_url + path)
        if url is None:
            url = self._urls[base_url + path] = httpx.URL(base_url + path)
        return url

    def _timeout(self, seconds: float) -> dict[str, float]:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = httpx.Timeout(seconds, connect=self.connect_timeout_s).as_dict()  # type: ignore[assignment]
            self._timeouts[seconds] = timeout  # type: ignore[assignment]
        return timeout  # type: ignore[return-value]

    def _request(self, route: RouteInfo, path: str, body: dict[str, Any], request_id: str) -> httpx.Request:
        provider = route.provider
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
            "x-request-id": request_id,
        }
        if provider.api_key:
            headers["authorization"] = "Bearer " + provider.api_key
        body["model"] = route.upstream_model
        return httpx.Request(
            "POST",
            self._url(provider.base_url, path),
            content=orjson.dumps(body),
            headers=headers,
            extensions={"timeout": self._timeout(provider.timeout_s)},
        )

    def chat_request(self, route: RouteInfo, body: dict[str, Any], request_id: str) -> httpx.Request:
        return self._request(route, "/chat/completions", body, request_id)

    def embeddings_request(self, route: RouteInfo, body: dict[str, Any], request_id: str) -> httpx.Request:
        return self._request(route, "/embeddings", body, request_id)

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
