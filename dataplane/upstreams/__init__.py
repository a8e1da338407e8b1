"""Upstream adapters by provider kind."""

from __future__ import annotations

from dataplane.upstreams.anthropic import AnthropicUpstream
from dataplane.upstreams.base import Upstream
from dataplane.upstreams.openai import OpenAIUpstream
from shared.settings import Settings


def make_adapters(settings: Settings) -> dict[str, Upstream]:
    """One adapter per provider kind (the `kind` of a provider)."""
    return {
        "openai": OpenAIUpstream(settings.upstream_connect_timeout_s),
        "anthropic": AnthropicUpstream(settings.upstream_connect_timeout_s),
    }
