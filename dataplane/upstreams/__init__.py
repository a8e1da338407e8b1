"""Upstream adapters by provider kind."""

from __future__ import annotations

from dataplane.upstreams.base import Upstream
from dataplane.upstreams.openai import OpenAIUpstream
from shared.settings import Settings


def make_adapters(settings: Settings) -> dict[str, Upstream]:
    """One adapter per provider kind this data plane can speak (Anthropic: not yet)."""
    return {"openai": OpenAIUpstream(settings.upstream_connect_timeout_s)}
