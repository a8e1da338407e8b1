"""Provider kinds at the back of the pipeline: one adapter per kind of shared/provider_kinds.py."""

from __future__ import annotations

from dataplane.upstreams.anthropic import AnthropicUpstream
from dataplane.upstreams.base import Upstream
from dataplane.upstreams.gemini import GeminiUpstream
from dataplane.upstreams.openai import HttpUpstream, OpenAIUpstream
from shared.provider_kinds import KINDS
from shared.settings import Settings

# The adapter class of each provider kind (kinds that differ only in what they serve share one).
ADAPTERS: dict[str, type[HttpUpstream]] = {
    "openai": OpenAIUpstream,
    "openai-chat": OpenAIUpstream,
    "anthropic": AnthropicUpstream,
    "cohere": OpenAIUpstream,  # rerank only: a JSON POST with a bearer key, like OpenAI's
    "jina": OpenAIUpstream,
    "gemini": GeminiUpstream,
}


def make_adapters(settings: Settings) -> dict[str, Upstream]:
    """One adapter per provider kind, keyed by the kind's name; every shared kind has one."""
    timeout = settings.upstream_connect_timeout_s
    adapters: dict[str, Upstream] = {name: cls(KINDS[name], timeout) for name, cls in ADAPTERS.items()}
    missing = set(KINDS) - set(adapters)
    if missing:
        raise RuntimeError(f"provider kinds without an adapter: {', '.join(sorted(missing))}")
    return adapters
