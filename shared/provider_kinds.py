"""The kinds of upstream provider: one list for forms, CLI, validation, the probe and the data plane.

A kind says how to reach a provider of that kind (the path of its chat-like endpoint, how the
credential is sent, which fixed headers it needs) and which gateway endpoints it serves natively.
The data plane's adapters (dataplane/upstreams/) implement each kind and check at start-up that
they match this list; the console and the probe read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderKind:
    """One provider kind and its wire details."""

    name: str
    label: str
    # The path (under the provider's base URL, which ends in /v1) of the request a probe sends.
    probe_path: str
    # "bearer": `Authorization: Bearer <key>`; "x-api-key": `x-api-key: <key>`. No key: no header.
    auth: str
    # Endpoints served as they are (no translation); everything else goes through chat completions.
    native: frozenset[str]
    fixed_headers: dict[str, str] = field(default_factory=dict)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The credential headers for `api_key` (none when the provider needs no key)."""
        if not api_key:
            return {}
        if self.auth == "x-api-key":
            return {"x-api-key": api_key}
        return {"authorization": "Bearer " + api_key}

    def probe_body(self, model: str) -> dict[str, object]:
        """The smallest request that proves a route works: one output token."""
        return {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}


ANTHROPIC_VERSION = "2023-06-01"

KINDS: dict[str, ProviderKind] = {
    kind.name: kind
    for kind in (
        ProviderKind(
            "openai",
            "OpenAI, or compatible with the Responses API",
            "/chat/completions",
            "bearer",
            frozenset({"chat", "embeddings", "responses", "completions"}),
        ),
        # Most OpenAI-compatible servers (vLLM, Ollama, DeepSeek, ...) have no /responses:
        # Responses requests reach them translated onto chat completions.
        ProviderKind(
            "openai-chat",
            "OpenAI-compatible, chat completions only",
            "/chat/completions",
            "bearer",
            frozenset({"chat", "embeddings", "completions"}),
        ),
        ProviderKind(
            "anthropic",
            "Anthropic",
            "/messages",
            "x-api-key",
            frozenset({"messages"}),
            {"anthropic-version": ANTHROPIC_VERSION},
        ),
    )
}
KIND_NAMES = tuple(KINDS)
