"""What the relay needs from a kind of upstream provider.

OpenAI chat completions are the gateway's internal form. An adapter builds the upstream request
for an OpenAI chat body, turns a non-streaming reply into an OpenAI `chat.completion`, and turns
each upstream stream event into OpenAI `chat.completion.chunk` payloads; it also sends bodies
natively to the endpoints its kind serves as they are (shared/provider_kinds.py).
OpenAI-compatible providers need no translation (`openai.py`); Anthropic's Messages API is
translated both ways (`anthropic.py`).
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from dataplane.snapshot import RouteInfo
from shared.money import TokenUsage
from shared.provider_kinds import ProviderKind


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(payload: dict[str, Any]) -> TokenUsage | None:
    """Token usage of an OpenAI reply or chunk, or None when it carries none."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    prompt_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    completion_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    return TokenUsage(
        prompt_tokens=_count(prompt),
        completion_tokens=_count(completion),
        cached_tokens=_count(prompt_details.get("cached_tokens")),
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
        audio_input_tokens=_count(prompt_details.get("audio_tokens")),
        audio_output_tokens=_count(completion_details.get("audio_tokens")),
    )


class StreamDecoder(Protocol):
    """Turns one upstream stream's events into OpenAI chunk payloads (one decoder per stream)."""

    def decode(self, data: bytes) -> tuple[list[bytes], bool]:
        """The OpenAI chunk payloads (JSON) for one SSE `data`, and whether the stream has ended."""
        ...


class Upstream(Protocol):
    """One provider kind: how its providers are called, and how its answers read as chat completions.

    `native_request` sends a body as it is to one of the kind's own endpoints (with the provider's
    credential); `chat_request`, `reply` and `stream_decoder` translate OpenAI chat completions to
    and from the kind's wire format (identity for OpenAI-compatible providers).
    """

    kind: ProviderKind

    def native_request(
        self, route: RouteInfo, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Request:
        """A JSON POST to `path` under the provider's base URL, with its credential and `headers`."""
        ...

    def chat_request(
        self, route: RouteInfo, body: dict[str, Any], request_id: str, output_cap: int
    ) -> httpx.Request:
        """The upstream request for an OpenAI chat body (already rewritten for billing)."""
        ...

    def reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming chat reply as an OpenAI chat.completion (the same object if it is one)."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A decoder of one chat stream into OpenAI chunks."""
        ...
