"""OpenAI-compatible providers: the body passes through; only `model` (and billing's fields) change."""

from __future__ import annotations

from typing import Any, BinaryIO

import httpx
import orjson

from dataplane.snapshot import RouteInfo
from dataplane.upstreams.base import StreamDecoder
from shared.provider_kinds import ProviderKind

USER_AGENT = "tollgate/0.1"


class PassThrough:
    """OpenAI stream events are already OpenAI chunks; `[DONE]` ends the stream."""

    def decode(self, data: bytes) -> tuple[list[bytes], bool]:
        if data.startswith(b"[DONE]"):
            return [], True
        return [data], False


PASS_THROUGH = PassThrough()


class HttpRequests:
    """Upstream requests with parsed URLs and timeouts cached per provider.

    httpx's URL parsing and Timeout objects are a noticeable cost per request otherwise.
    """

    def __init__(self, connect_timeout_s: float) -> None:
        self.connect_timeout_s = connect_timeout_s
        self._urls: dict[str, httpx.URL] = {}
        self._timeouts: dict[float, dict[str, Any]] = {}

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def _timeout(self, seconds: float) -> dict[str, Any]:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = httpx.Timeout(
                seconds, connect=self.connect_timeout_s
            ).as_dict()
        return timeout

    def post(
        self, route: RouteInfo, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Request:
        """A JSON POST to the route's provider."""
        provider = route.provider
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, **headers}
        return httpx.Request(
            "POST",
            self._url(provider.base_url + path),
            content=orjson.dumps(payload),
            headers=headers,
            extensions={"timeout": self._timeout(provider.timeout_s)},
        )

    def post_form(
        self,
        route: RouteInfo,
        path: str,
        fields: list[tuple[str, str]],
        files: list[tuple[str, tuple[str, BinaryIO, str]]],
        headers: dict[str, str],
    ) -> httpx.Request:
        """A multipart POST to the route's provider; the files are streamed in chunks."""
        provider = route.provider
        # httpx reads a list as raw content, not as form fields: a name may repeat, so it maps to a list.
        data: dict[str, list[str]] = {}
        for name, value in fields:
            data.setdefault(name, []).append(value)
        return httpx.Request(
            "POST",
            self._url(provider.base_url + path),
            data=data,
            files=files,
            headers={"user-agent": USER_AGENT, **headers},
            extensions={"timeout": self._timeout(provider.timeout_s)},
        )


class HttpUpstream:
    """What every adapter shares: its provider kind, its request builder, a native call's headers."""

    def __init__(self, kind: ProviderKind, connect_timeout_s: float) -> None:
        self.kind = kind
        self.http = HttpRequests(connect_timeout_s)

    def json_headers(self, route: RouteInfo, headers: dict[str, str]) -> dict[str, str]:
        """A JSON call's headers: the kind's fixed ones, the caller's, then the credential."""
        return {
            "accept": "application/json",
            **self.kind.fixed_headers,
            **headers,
            **self.kind.auth_headers(route.provider.api_key),
        }


class OpenAIUpstream(HttpUpstream):
    """An upstream that speaks the OpenAI API (OpenAI itself, vLLM, OpenRouter, ...)."""

    def native_request(
        self, route: RouteInfo, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Request:
        payload["model"] = route.upstream_model
        return self.http.post(route, path, payload, self.json_headers(route, headers))

    def native_form(
        self,
        route: RouteInfo,
        path: str,
        fields: list[tuple[str, str]],
        files: list[tuple[str, tuple[str, BinaryIO, str]]],
        headers: dict[str, str],
    ) -> httpx.Request:
        """A multipart upload to `path`, with `model` set to the route's upstream model."""
        headers = {**headers, **self.kind.auth_headers(route.provider.api_key)}
        fields = [(name, value) for name, value in fields if name != "model"]
        fields.append(("model", route.upstream_model))
        return self.http.post_form(route, path, fields, files, headers)

    def chat_request(
        self, route: RouteInfo, body: dict[str, Any], request_id: str, output_cap: int
    ) -> httpx.Request:
        return self.native_request(route, "/chat/completions", body, {"x-request-id": request_id})

    def reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    def stream_decoder(self) -> StreamDecoder:
        return PASS_THROUGH
