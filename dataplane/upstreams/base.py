"""What the relay needs from a kind of upstream provider.

The relay speaks OpenAI to its clients. An adapter builds the upstream request for an OpenAI
chat or embeddings body, turns a non-streaming reply into an OpenAI `chat.completion`, and turns
each upstream stream event into OpenAI `chat.completion.chunk` payloads. OpenAI-compatible
providers need no translation (`openai.py` passes everything through); Anthropic's Messages API
is translated both ways (`anthropic.py`).
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from dataplane.snapshot import RouteInfo
from shared.money import TokenUsage


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
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return TokenUsage(
        prompt_tokens=_count(prompt),
        completion_tokens=_count(completion),
        cached_tokens=_count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0,
        reasoning_tokens=(
            _count(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else 0
        ),
    )


class StreamDecoder(Protocol):
    """Turns one upstream stream's events into OpenAI chunk payloads (one decoder per stream)."""

    def decode(self, data: bytes) -> tuple[list[bytes], bool]:
        """The OpenAI chunk payloads (JSON) for one SSE `data`, and whether the stream has ended."""
        ...


class Upstream(Protocol):
    """One kind of upstream API."""

    modalities: frozenset[str]

    def chat_request(
        self, route: RouteInfo, body: dict[str, Any], request_id: str, output_cap: int
    ) -> httpx.Request:
        """The upstream request for an OpenAI chat body (already rewritten for billing)."""
        ...

    def embeddings_request(self, route: RouteInfo, body: dict[str, Any], request_id: str) -> httpx.Request:
        """The upstream request for an embeddings body (only if "embedding" is in `modalities`)."""
        ...

    def reply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming upstream reply as an OpenAI chat.completion (the same object if it is one)."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A decoder for one upstream stream."""
        ...
