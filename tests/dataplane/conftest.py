"""Fixtures for the data plane: two fake upstreams (session-wide, reset per test), the shop, and the
real data plane on a loopback port (started after the test data exists, stopped at teardown)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dataplane.app import create_app
from shared.settings import Settings
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop
from tests.support.fake_scoring import FakeScoring
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="session")
def upstream_servers() -> Iterator[dict[str, tuple[FakeUpstream, ServerThread]]]:
    servers = {}
    for name in ("a", "b"):
        fake = FakeUpstream(name)
        servers[name] = (fake, ServerThread(fake.app(), log_level="critical", graceful_s=1.0).start())
    yield servers
    for fake, server in servers.values():
        fake.reset()
        server.stop()


@pytest.fixture
def upstream(upstream_servers: dict[str, tuple[FakeUpstream, ServerThread]]) -> Iterator[FakeUpstream]:
    """The first fake provider, with an empty script and log."""
    fake, server = upstream_servers["a"]
    fake.reset()
    fake.url = server.url  # type: ignore[attr-defined]
    yield fake
    fake.reset()


@pytest.fixture
def upstream_b(upstream_servers: dict[str, tuple[FakeUpstream, ServerThread]]) -> Iterator[FakeUpstream]:
    """The second fake provider."""
    fake, server = upstream_servers["b"]
    fake.reset()
    fake.url = server.url  # type: ignore[attr-defined]
    yield fake
    fake.reset()


@pytest.fixture(scope="session")
def scoring_server() -> Iterator[tuple[FakeScoring, ServerThread]]:
    fake = FakeScoring()
    server = ServerThread(fake.app(), log_level="critical", graceful_s=1.0).start()
    yield fake, server
    server.stop()


@pytest.fixture
def scoring(scoring_server: tuple[FakeScoring, ServerThread]) -> Iterator[FakeScoring]:
    """The fake moderation and rerank provider (tests/support/fake_scoring.py), reset; `.url` is its root."""
    fake, server = scoring_server
    fake.reset()
    fake.url = server.url  # type: ignore[attr-defined]
    yield fake
    fake.reset()


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    """Fast timers for tests."""
    return dataclasses.replace(
        settings, keepalive_interval_s=15.0, lease_idle_release_s=0.5, provider_cooldown_s=30.0
    )


@pytest.fixture
def shop(gateway_settings: Settings) -> Shop:
    return Shop(gateway_settings)


@pytest.fixture
def start_gateway(gateway_settings: Settings) -> Iterator[Callable[..., ServerThread]]:
    """Start the data plane (with settings overrides); it is stopped at teardown."""
    running: list[ServerThread] = []

    def start(**overrides: Any) -> ServerThread:
        settings = dataclasses.replace(gateway_settings, **overrides)
        server = ServerThread(create_app(settings)).start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def stocked(shop: Shop, upstream: FakeUpstream) -> Shop:
    """One provider "alpha" on the first fake upstream, a chat model and an embedding model."""
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", upstream_model="up-chat")
    shop.model(EMBED_MODEL, "alpha", upstream_model="up-embed", modality="embedding", output_price=0)
    return shop


@pytest.fixture
def alice(stocked: Shop) -> Customer:
    """A customer with $10."""
    return stocked.customer(10_000_000_000)


@pytest.fixture
def gateway(stocked: Shop, alice: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    """The data plane, started after the shop and alice exist."""
    return start_gateway()
