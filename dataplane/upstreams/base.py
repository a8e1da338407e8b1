"""What the relay needs from a kind of upstream provider.

An adapter builds the upstream request for a client body and reads token usage back, from a
JSON reply or from one stream chunk. OpenAI-compatible providers share `openai.py`; a provider
that speaks another protocol (Anthropic) gets its own module that translates both ways.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from dataplane.snapshot import RouteInfo
from shared.money import TokenUsage


class Upstream(Protocol):
    """One kind of upstream API."""

    def chat_request(self, route: RouteInfo, body: dict[str, Any], request_id: str) -> httpx.Request:
        """The upstream request for a chat completion body (already rewritten for billing)."""
        ...

    def embeddings_request(self, route: RouteInfo, body: dict[str, Any], request_id: str) -> httpx.Request:
        """The upstream request for an embeddings body."""
        ...

    def usage(self, payload: dict[str, Any]) -> TokenUsage | None:
        """Token usage in a reply or stream chunk, or None when it carries none."""
        ...
