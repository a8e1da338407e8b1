"""Rate limits per key and per user (requests and tokens per minute), through the official OpenAI SDK.

The in-process limiter is exercised on one data plane; the Redis limiter is shared by two data
planes on two ports against one database and the local Redis (a fresh key prefix per test).
"""

from __future__ import annotations

import math
import re
import socket
import uuid
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest
import redis

from dataplane.ratelimit import go_duration
from shared import accounts, billing, key_admin
from shared.errors import InvalidInput
from shared.group_admin import save_group
from shared.models import ApiKey, UsageRecord, User
from shared.settings import Settings
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, eventually, prompt_bound, usage_for
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

REDIS_URL = "redis://127.0.0.1:6379/0"
MESSAGES = [{"role": "user", "content": "hi"}]
GO_DURATION = re.compile(r"^(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


class _Headers(httpx.Headers):
    """Response headers that remember the request they answered."""

    request: httpx.Request


def _ask(gateway: ServerThread, customer: Customer, **kwargs: object) -> _Headers:
    """One chat completion through the SDK; returns the response headers."""
    raw = customer.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=MESSAGES, **kwargs
    )
    raw.parse()
    headers = _Headers(raw.headers)
    headers.request = raw.http_request
    return headers


def _prompt_estimate(headers: _Headers) -> int:
    """The tokens a limit counts for the prompt: its bound (bytes + 16) over four, rounded up."""
    return -(-prompt_bound(headers.request) // 4)


def _refused(gateway: ServerThread, customer: Customer) -> openai.RateLimitError:
    with pytest.raises(openai.RateLimitError) as caught:
        _ask(gateway, customer)
    return caught.value


def _status(gateway: ServerThread, customer: Customer) -> int:
    headers = {"authorization": f"Bearer {customer.secret}"}
    body = {"model": CHAT_MODEL, "messages": MESSAGES}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers).status_code


def _assert_retry_headers(error: openai.RateLimitError) -> int:
    headers = error.response.headers
    wait_ms = int(headers["retry-after-ms"])
    assert 1 <= int(headers["retry-after"]) <= 60
    assert int(headers["retry-after"]) == math.ceil(wait_ms / 1000)
    return wait_ms


def test_requests_per_minute_per_key(gateway: ServerThread, stocked: Shop, upstream: FakeUpstream) -> None:
    customer = stocked.customer(10_000_000_000, rpm_limit=2)

    first = _ask(gateway, customer)
    second = _ask(gateway, customer)
    error = _refused(gateway, customer)

    assert [first["x-ratelimit-limit-requests"], second["x-ratelimit-limit-requests"]] == ["2", "2"]
    assert [first["x-ratelimit-remaining-requests"], second["x-ratelimit-remaining-requests"]] == ["1", "0"]
    assert GO_DURATION.match(first["x-ratelimit-reset-requests"])
    assert "x-ratelimit-limit-tokens" not in first  # no token limit on this key
    assert error.status_code == 429
    assert error.body["type"] == "requests"  # type: ignore[index]
    assert error.code == "rate_limit_exceeded"
    assert "this API key" in error.message
    # A full bucket of 2 per minute frees one request 30 s after the last one (less the time passed).
    assert 25_000 < _assert_retry_headers(error) <= 30_000
    assert error.response.headers["x-ratelimit-limit-requests"] == "2"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.request_id
    # The refused request reached no upstream and is not billed.
    assert len(upstream.requests) == 2
    assert len(usage_for(2)) == 2
    assert UsageRecord.select().where(UsageRecord.request_id == error.request_id).count() == 0
    assert len(charges(customer.user_id)) == 2


def test_tokens_per_minute_count_real_usage(
    gateway: ServerThread, stocked: Shop, upstream: FakeUpstream
) -> None:
    customer = stocked.customer(10_000_000_000, tpm_limit=500, rpm_limit=100)
    upstream.default = Reply(usage=(10, 400))  # 410 tokens per request

    first = _ask(gateway, customer, max_tokens=100)
    after_first = _ask(gateway, customer, max_tokens=20)
    error = _refused(gateway, customer)

    # The first reservation (prompt estimate + 100) shows before the request runs ...
    assert first["x-ratelimit-limit-tokens"] == "500"
    assert 350 <= int(first["x-ratelimit-remaining-tokens"]) < 400
    assert int(first["x-ratelimit-remaining-tokens"]) == 500 - (_prompt_estimate(first) + 100)
    assert first["x-ratelimit-remaining-requests"] == "99"
    # ... then the 410 tokens really used replace it: the second request only just fits.
    assert int(after_first["x-ratelimit-remaining-tokens"]) < 90
    assert GO_DURATION.match(after_first["x-ratelimit-reset-tokens"])
    assert error.body["type"] == "tokens"  # type: ignore[index]
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert error.response.headers["x-ratelimit-limit-requests"] == "100"
    _assert_retry_headers(error)
    assert len(upstream.requests) == 2


def test_a_request_refused_for_balance_counts_but_gives_its_tokens_back(
    gateway: ServerThread, stocked: Shop, upstream: FakeUpstream
) -> None:
    customer = stocked.customer(50_000, rpm_limit=10, tpm_limit=10_000)  # too poor for any request
    with pytest.raises(openai.APIStatusError) as caught:
        _ask(gateway, customer, max_tokens=1_000)
    assert caught.value.status_code == 402
    billing.post_entry(customer.user_id, 1_000_000_000, "deposit", "dep:top-up")

    headers = _ask(gateway, customer, max_tokens=1_000)

    # The refused request used one of the ten requests, but none of the tokens it had reserved.
    assert headers["x-ratelimit-remaining-requests"] == "8"
    assert int(headers["x-ratelimit-remaining-tokens"]) == 10_000 - (_prompt_estimate(headers) + 1_000)
    assert len(upstream.requests) == 1


def test_streams_carry_the_headers_and_keys_without_limits_do_not(
    gateway: ServerThread, stocked: Shop, alice: Customer
) -> None:
    limited = stocked.customer(10_000_000_000, rpm_limit=10, tpm_limit=100_000)
    client = limited.client(gateway.url)

    with client.chat.completions.with_streaming_response.create(
        model=CHAT_MODEL, messages=MESSAGES, stream=True
    ) as response:
        headers = response.headers
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)

    assert text == "Hello from upstream"
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert int(headers["x-ratelimit-remaining-tokens"]) < 100_000
    # The stream reserves its prompt estimate plus the default cap of 4,096 tokens.
    prompt = -(-prompt_bound(response.http_request) // 4)
    assert int(headers["x-ratelimit-remaining-tokens"]) == 100_000 - (prompt + 4_096)
    assert not [name for name in _ask(gateway, alice) if name.startswith("x-ratelimit")]


def test_a_group_limits_each_user_across_its_keys(
    stocked: Shop, start_gateway: Callable[..., ServerThread]
) -> None:
    save_group(None, "metered", 1_000_000, None, rpm_limit=2, tpm_limit=None)
    customer = stocked.customer(10_000_000_000, group="metered")
    _, second_secret = accounts.create_key(User.get_by_id(customer.user_id))
    second = Customer(customer.user_id, 0, second_secret)
    neighbour = stocked.customer(10_000_000_000, group="metered")
    gateway = start_gateway()

    assert _ask(gateway, customer)["x-ratelimit-remaining-requests"] == "1"
    assert _ask(gateway, second)["x-ratelimit-remaining-requests"] == "0"
    error = _refused(gateway, customer)

    assert "your account" in error.message
    assert error.body["type"] == "requests"  # type: ignore[index]
    # Another member of the group has a budget of its own.
    assert _ask(gateway, neighbour)["x-ratelimit-remaining-requests"] == "1"


def test_changed_limits_apply_within_two_seconds(
    gateway: ServerThread, stocked: Shop, alice: Customer
) -> None:
    customer = stocked.customer(10_000_000_000, rpm_limit=1)
    assert _status(gateway, customer) == 200
    assert _status(gateway, customer) == 429

    key_admin.set_key_limits(ApiKey.get_by_id(customer.key_id), 100, None)
    eventually(lambda: _status(gateway, customer) == 200, timeout=2.0, what="the raised limit")
    default = accounts.get_or_create_group()
    save_group(default, default.name, default.multiplier_ppm, None, rpm_limit=1, tpm_limit=None)
    eventually(lambda: _status(gateway, alice) == 429, timeout=2.0, what="the new group limit")

    assert _refused(gateway, alice).response.headers["x-ratelimit-limit-requests"] == "1"


def test_limits_refuse_bad_values(stocked: Shop) -> None:
    customer = stocked.customer(0)
    key = ApiKey.get_by_id(customer.key_id)

    for rpm, tpm, field in ((0, None, "rpm_limit"), (None, -5, "tpm_limit"), (None, 10**13, "tpm_limit")):
        with pytest.raises(InvalidInput) as caught:
            key_admin.set_key_limits(key, rpm, tpm)
        assert caught.value.field == field
    assert ApiKey.get_by_id(key.id).rpm_limit is None


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix in the local Redis, deleted afterwards."""
    prefix = f"tollgate-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


def _tokens_used(prefix: str, customer: Customer) -> float:
    client = redis.Redis.from_url(REDIS_URL)
    level = client.hget(f"{prefix}rl:{{u{customer.user_id}}}:k:{customer.key_id}:t", "u")
    client.close()
    return float(level or 0)


def test_redis_limits_are_shared_by_two_data_planes(
    stocked: Shop,
    upstream: FakeUpstream,
    start_gateway: Callable[..., ServerThread],
    redis_prefix: str,
) -> None:
    customer = stocked.customer(10_000_000_000, rpm_limit=3)
    heavy = stocked.customer(10_000_000_000, tpm_limit=500)
    one = start_gateway(redis_url=REDIS_URL, redis_prefix=redis_prefix)
    two = start_gateway(redis_url=REDIS_URL, redis_prefix=redis_prefix)

    remaining = [_ask(gw, customer)["x-ratelimit-remaining-requests"] for gw in (one, two, one)]
    error = _refused(two, customer)

    assert remaining == ["2", "1", "0"]
    assert error.body["type"] == "requests"  # type: ignore[index]
    assert 15_000 < _assert_retry_headers(error) <= 20_000
    assert len(upstream.requests) == 3
    # Tokens used on one data plane count on the other once the correction lands.
    upstream.default = Reply(usage=(10, 600))
    _ask(one, heavy, max_tokens=20)
    eventually(lambda: _tokens_used(redis_prefix, heavy) > 400, what="the real usage to reach Redis")
    assert _refused(two, heavy).body["type"] == "tokens"  # type: ignore[index]
    assert httpx.get(f"{two.url}/api/status").json()["redis"] == {"configured": True, "reachable": True}


def test_redis_down_fails_open(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread], settings: Settings
) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    customer = stocked.customer(10_000_000_000, rpm_limit=1)
    gateway = start_gateway(redis_url=f"redis://127.0.0.1:{port}/0", redis_prefix="unused:")

    statuses = [_status(gateway, customer) for _ in range(3)]
    status = httpx.get(f"{gateway.url}/api/status")

    assert statuses == [200, 200, 200]
    assert len(upstream.requests) == 3
    assert status.status_code == 200
    assert status.json()["redis"] == {"configured": True, "reachable": False}


def test_go_durations() -> None:
    assert [go_duration(s) for s in (0, 0.0121, 0.25, 1, 12.5, 60, 61.25)] == [
        "0s",
        "13ms",
        "250ms",
        "1s",
        "12.5s",
        "1m0s",
        "1m1.25s",
    ]
