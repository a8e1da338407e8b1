"""Health per route: one model's failures leave the provider's other models serving; the public report."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest

from tests.dataplane.helpers import Customer, Shop
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def two_models(
    shop: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> tuple[ServerThread, Customer]:
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.model("acme/bad", "alpha", upstream_model="bad")
    shop.model("acme/good", "alpha", upstream_model="good")
    customer = shop.customer(1_000_000_000)
    return start_gateway(provider_failure_threshold=3, provider_cooldown_s=60), customer


def test_a_failing_model_leaves_its_siblings_on_the_provider_serving(
    two_models: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = two_models
    upstream.by_model["bad"] = Reply(status=500)
    client = customer.client(gateway.url)

    for _ in range(5):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="acme/bad", messages=HELLO)
        assert client.chat.completions.create(model="acme/good", messages=HELLO).choices[0].message.content

    bad_calls = [r for r in upstream.requests if r.body["model"] == "bad"]
    # Its only route cools down, yet is still tried (the earliest-ready route), never the sibling.
    assert len(bad_calls) == 5
    assert len([r for r in upstream.requests if r.body["model"] == "good"]) == 5


def test_the_public_report_per_provider_and_route(
    two_models: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = two_models
    upstream.by_model["bad"] = Reply(status=503)
    client = customer.client(gateway.url)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="acme/bad", messages=HELLO)
    for _ in range(2):
        client.chat.completions.create(model="acme/good", messages=HELLO)
    with client.chat.completions.create(model="acme/good", messages=HELLO, stream=True) as stream:
        list(stream)

    response = httpx.get(f"{gateway.url}/v1/health/providers")  # no key: public

    assert response.status_code == 200
    assert "upstream-key-alpha" not in response.text and upstream.url not in response.text  # type: ignore[attr-defined]
    [alpha] = response.json()["providers"]
    assert (alpha["name"], alpha["kind"], alpha["state"]) == ("alpha", "openai", "degraded")
    assert alpha["windows"]["5m"]["requests"] == 6
    assert alpha["windows"]["5m"]["success_rate"] == 0.5
    bad, good = alpha["routes"]
    assert (bad["model"], bad["upstream_model"], bad["state"]) == ("acme/bad", "bad", "cooling")
    assert bad["last_error"]["class"] == "http_503" and bad["cooling_until"]
    assert bad["windows"]["60m"]["success_rate"] == 0.0
    assert (good["model"], good["state"], good["last_error"]) == ("acme/good", "ok", None)
    assert good["windows"]["5m"]["requests"] == 3 and good["windows"]["5m"]["success_rate"] == 1.0
    assert good["windows"]["5m"]["latency_ms"]["p50"] > 0
    assert good["windows"]["5m"]["ttft_ms"]["p50"] > 0  # the stream's first token
    assert httpx.get(f"{gateway.url}/api/status").json()["providers"]["routes_cooling_down"] == 1
