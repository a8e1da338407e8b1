"""GET /metrics after real traffic: the counters equal the usage records; /api/live and /api/ready."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.models import UsageRecord
from shared.settings import Secret
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, eventually
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

MESSAGES = [{"role": "user", "content": "hi"}]


def scrape(gateway: ServerThread, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    answer = httpx.get(gateway.url + "/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def test_the_counters_equal_the_usage_records(
    gateway: ServerThread, alice: Customer, stocked: Shop, upstream: FakeUpstream
) -> None:
    client = alice.client(gateway.url)
    upstream.default = Reply(usage=(10, 5))
    for _ in range(3):
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    list(client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True))
    upstream.script(Reply(status=500, error={"error": {"message": "boom"}}))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no/such-model", messages=MESSAGES)
    records = eventually(lambda: (r := list(UsageRecord.select())) and len(r) == 5 and r, what="5 records")

    samples = eventually(
        lambda: (s := scrape(gateway)) and total(s, "tollgate_requests_total") == 5 and s, what="settled"
    )
    assert total(samples, "tollgate_requests_total", model=CHAT_MODEL) == len(records)
    assert total(samples, "tollgate_requests_total", status_class="2xx") == sum(
        1 for r in records if r.http_status == 200
    )
    assert total(samples, "tollgate_tokens_total", kind="input") == sum(r.prompt_tokens for r in records)
    assert total(samples, "tollgate_tokens_total", kind="output") == sum(r.completion_tokens for r in records)
    assert total(samples, "tollgate_charges_nano_usd_total") == sum(r.charge for r in records) > 0
    assert total(samples, "tollgate_request_duration_seconds_count") == len(records)
    assert total(samples, "tollgate_time_to_first_token_seconds_count") == 1  # the one stream
    assert total(samples, "tollgate_upstream_errors_total", provider="alpha") == 1
    assert total(samples, "tollgate_requests_refused_total", status="404") == 1
    assert total(samples, "tollgate_holds_in_flight") == 0
    assert total(samples, "tollgate_settlements_written_total") == len(records)
    assert total(samples, "tollgate_ready") == 3  # every readiness check passes


def test_rate_limit_refusals_are_counted(
    stocked: Shop, start_gateway: Callable[..., ServerThread], upstream: FakeUpstream
) -> None:
    customer = stocked.customer(10_000_000_000, rpm_limit=1)
    gateway = start_gateway()
    client = customer.client(gateway.url)
    client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    samples = scrape(gateway)
    assert total(samples, "tollgate_rate_limit_rejections_total", scope="key", kind="requests") == 1
    assert total(samples, "tollgate_requests_refused_total", status="429") == 1


def test_with_a_token_only_its_bearer_may_scrape(
    stocked: Shop, alice: Customer, start_gateway: Callable[..., ServerThread]
) -> None:
    gateway = start_gateway(metrics_token=Secret("scrape-me"))
    refused = httpx.get(gateway.url + "/metrics")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "metrics_forbidden"
    assert httpx.get(gateway.url + "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert alice.secret not in refused.text
    assert total(scrape(gateway, Authorization="Bearer scrape-me"), "tollgate_ready") == 3


def test_live_and_ready(gateway: ServerThread) -> None:
    assert httpx.get(gateway.url + "/api/live").json() == {"status": "live"}
    ready = httpx.get(gateway.url + "/api/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": True, "settlements": True, "catalogue": True},
        "failing": [],
    }
