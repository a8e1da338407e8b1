"""Routing across two fake providers: failover, 503 when none is left, cool-down, weights."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import openai
import pytest

from shared import catalog
from shared.settings import Secret
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def two_providers(shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream) -> Shop:
    """alpha (priority 10) on the first fake, beta (priority 0) on the second, same model."""
    shop.provider("alpha", upstream.url, timeout_s=0.5)  # type: ignore[attr-defined]
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", upstream_model="alpha-chat", priority=10)
    shop.model(
        CHAT_MODEL, "beta", upstream_model="beta-chat", priority=0, costs=(500_000_000, 1_000_000_000, None)
    )
    return shop


@pytest.mark.parametrize("failure", [Reply(status=500), Reply(status=429), Reply(latency_s=2.0)])
def test_fails_over_to_the_next_route_before_the_first_byte(
    two_providers: Shop,
    upstream: FakeUpstream,
    upstream_b: FakeUpstream,
    start_gateway: Callable,
    failure: Reply,
) -> None:
    customer = two_providers.customer(1_000_000_000)
    gateway = start_gateway()
    upstream.script(failure)
    upstream_b.script(Reply(text="from beta", usage=(4, 2)))

    completion = customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, stream=True
    )

    assert "".join(c.choices[0].delta.content or "" for c in completion) == "from beta"
    assert len(upstream.requests) == 1 and upstream_b.requests[-1].body["model"] == "beta-chat"
    [record] = usage_for(1)
    assert (record.provider, record.upstream_model, record.status) == ("beta", "beta-chat", "ok")
    assert record.charge == 4 * 1_000 + 2 * 2_000
    assert record.cost == 4 * 500 + 2 * 1_000  # beta's own prices


def test_connection_refused_fails_over(shop: Shop, upstream_b: FakeUpstream, start_gateway: Callable) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    shop.provider("alpha", f"http://127.0.0.1:{dead_port}")
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", priority=10)
    shop.model(CHAT_MODEL, "beta", priority=0)
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()

    completion = customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert completion.choices[0].message.content == "Hello from upstream"
    assert len(upstream_b.requests) == 1


def test_503_when_every_provider_fails(
    two_providers: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    customer = two_providers.customer(1_000_000_000)
    gateway = start_gateway()
    upstream.script(Reply(status=500))
    upstream_b.script(Reply(status=502))

    with pytest.raises(openai.InternalServerError) as caught:
        customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.status_code == 503
    assert caught.value.code == "service_unavailable"
    assert "alpha" in caught.value.message and "beta" in caught.value.message
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)


def test_the_only_route_rate_limiting_us_is_a_503_with_its_retry_after(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(status=429, retry_after="7"))

    with pytest.raises(openai.InternalServerError) as caught:
        alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.status_code == 503
    assert caught.value.code == "service_unavailable"
    assert "rate limiting us" in caught.value.message
    assert caught.value.response.headers["retry-after"] == "7"
    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 503)


@pytest.mark.parametrize("status", [401, 402, 403])
def test_the_providers_own_credential_errors_never_reach_the_client_as_such(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer, status: int
) -> None:
    # The provider refused *our* key or account: the customer's key is fine, so no 401/402/403.
    upstream.script(Reply(status=status))

    with pytest.raises(openai.InternalServerError) as caught:
        alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert (caught.value.status_code, caught.value.code) == (502, "upstream_error")
    assert f"HTTP {status}" in caught.value.message
    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 502)


def test_a_failing_route_is_skipped_during_its_cooldown(
    two_providers: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    customer = two_providers.customer(1_000_000_000)
    gateway = start_gateway(provider_failure_threshold=2, provider_cooldown_s=60)
    upstream.default = Reply(status=500)
    client = customer.client(gateway.url)

    for _ in range(5):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert len(upstream.requests) == 2  # two failures, then the route via alpha cools down
    assert len(upstream_b.requests) == 5
    status = httpx.get(f"{gateway.url}/api/status").json()
    # A model's 500s cool its route, not the provider (its other models keep serving).
    assert (status["providers"]["cooling_down"], status["providers"]["routes_cooling_down"]) == ([], 1)


def test_when_every_route_is_cooling_the_one_ready_first_is_tried(
    two_providers: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    customer = two_providers.customer(1_000_000_000)
    gateway = start_gateway(provider_failure_threshold=1, provider_cooldown_s=60)
    upstream.default = Reply(status=500)
    upstream_b.default = Reply(status=500)
    client = customer.client(gateway.url)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    assert (len(upstream.requests), len(upstream_b.requests)) == (1, 1)  # both cooling now
    upstream.default = Reply(text="alpha is back")

    reply = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    # Not a 503 untried: alpha's cool-down started first, so it ends first and alpha is tried.
    assert reply.choices[0].message.content == "alpha is back"
    assert (len(upstream.requests), len(upstream_b.requests)) == (2, 1)


def test_routes_in_one_tier_share_traffic_by_weight(
    shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", weight=1)
    shop.model(CHAT_MODEL, "beta", weight=1)
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()
    client = customer.client(gateway.url)

    for _ in range(16):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert len(upstream.requests) + len(upstream_b.requests) == 16
    assert upstream.requests and upstream_b.requests


def test_a_heavier_route_in_a_tier_gets_more_of_the_traffic(
    shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", weight=1)
    shop.model(CHAT_MODEL, "beta", weight=9)
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()
    client = customer.client(gateway.url)

    for _ in range(200):
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    # alpha should get ~20 of 200 (sd ~4); equal shares would give it ~100 (sd ~7). Either bound
    # failing by chance is below one in a million.
    assert len(upstream.requests) + len(upstream_b.requests) == 200
    assert 0 < len(upstream.requests) < 60


def test_a_provider_whose_key_cannot_be_decrypted_is_skipped(
    shop: Shop, upstream: FakeUpstream, upstream_b: FakeUpstream, start_gateway: Callable
) -> None:
    catalog.add_provider("alpha", upstream.url + "/v1", "k", Secret("another-deployment"))  # type: ignore[attr-defined]
    shop.provider("beta", upstream_b.url)  # type: ignore[attr-defined]
    shop.model(CHAT_MODEL, "alpha", priority=10)
    shop.model(CHAT_MODEL, "beta", priority=0)
    customer = shop.customer(1_000_000_000)
    gateway = start_gateway()

    customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert (len(upstream.requests), len(upstream_b.requests)) == (0, 1)
    assert httpx.get(f"{gateway.url}/api/status").json()["providers"]["total"] == 1
