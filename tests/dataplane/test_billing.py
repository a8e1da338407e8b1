"""Money through the real data plane: holds, lowered caps, 402, spend caps, multipliers, concurrency."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import openai
import pytest

from shared import accounts, billing
from shared.models import ApiKey, UsageRecord
from shared.money_text import money_text
from tests.dataplane.helpers import (
    CHAT_MODEL,
    Customer,
    Shop,
    active_holds,
    affordable_output,
    balance,
    charges,
    eventually,
    prompt_bound,
    statuses_all_at_once,
    usage_for,
)
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


def _raw_hold(body_bytes: int, output: int) -> int:
    """What a request's worst case costs at the test prices (1,000 and 2,000 nano per token)."""
    return body_bytes * 1_000 + output * 2_000


def test_402_when_even_a_minimal_reply_is_unaffordable(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    poor = stocked.customer(50_000)  # 50 tokens of input at most: less than any prompt bound
    gateway = start_gateway()

    with pytest.raises(openai.APIStatusError) as caught:
        poor.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    assert caught.value.status_code == 402
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert upstream.requests == []
    assert balance(poor.user_id) == 50_000
    assert active_holds() == 0


def test_output_cap_is_lowered_to_what_the_balance_pays(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000)  # $0.001
    gateway = start_gateway()
    upstream.script(Reply(usage=(10, 5)))

    raw = customer.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=100_000
    )

    lowered = int(raw.headers["x-tollgate-max-tokens-lowered"])
    sent = upstream.requests[-1].body["max_tokens"]
    assert sent == lowered
    assert 16 <= lowered < 500  # ≤ (1,000,000 − prompt bound × 1,000) / 2,000
    # The whole balance is held: the prompt bound at $1/M, every unit left buys output at $2/M.
    assert lowered == affordable_output(1_000_000, raw.http_request)
    assert raw.parse().choices[0].message.content
    [record] = usage_for(1)
    assert record.charge == 10 * 1_000 + 5 * 2_000
    assert charges(customer.user_id) == [20_000]
    gateway.stop()
    assert balance(customer.user_id) == 1_000_000 - 20_000
    assert active_holds() == 0


def test_default_cap_is_lowered_with_max_completion_tokens(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000)
    gateway = start_gateway()

    raw = customer.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=HELLO
    )

    forwarded = upstream.requests[-1].body
    assert forwarded["max_completion_tokens"] == int(raw.headers["x-tollgate-max-tokens-lowered"])
    assert "max_tokens" not in forwarded
    # The default cap (4,096 tokens, ~8.2M) does not fit in $0.001: it becomes what the balance pays.
    assert forwarded["max_completion_tokens"] == affordable_output(1_000_000, raw.http_request)


def test_both_output_caps_are_lowered_when_both_are_sent(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000)
    gateway = start_gateway()

    raw = customer.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=100_000, max_completion_tokens=100_000
    )

    lowered = int(raw.headers["x-tollgate-max-tokens-lowered"])
    assert lowered == affordable_output(1_000_000, raw.http_request)
    forwarded = upstream.requests[-1].body
    assert (forwarded["max_tokens"], forwarded["max_completion_tokens"]) == (lowered, lowered)


def test_uncapped_request_with_enough_balance_is_forwarded_untouched(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    raw = alice.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL,
        messages=HELLO,
        max_tokens=50,
        max_completion_tokens=40,
        temperature=0.25,
        extra_body={"top_k": 7, "vendor_thing": {"nested": [1, 2]}},
    )

    forwarded = upstream.requests[-1].body
    assert "x-tollgate-max-tokens-lowered" not in raw.headers
    assert forwarded["max_tokens"] == 50 and forwarded["max_completion_tokens"] == 40
    assert forwarded["temperature"] == 0.25
    assert forwarded["top_k"] == 7 and forwarded["vendor_thing"] == {"nested": [1, 2]}
    assert forwarded["messages"] == HELLO


def test_key_spend_cap_is_enforced(stocked: Shop, upstream: FakeUpstream, start_gateway: Callable) -> None:
    # Each request costs 20,000; one is let in only while its worst case (134,000 for a ~94-token
    # prompt bound and 20 output tokens) still fits under the cap.
    capped = stocked.customer(10_000_000_000, spend_cap=300_000)
    gateway = start_gateway()
    upstream.default = Reply(usage=(10, 5))

    statuses = _statuses(capped.client(gateway.url), 12)

    assert statuses == [200] * 9 + [402] * 3
    usage_for(9)
    assert sum(charges(capped.user_id)) == 9 * 20_000


def test_a_spend_cap_lowers_the_last_request_and_is_never_passed(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway()
    probe = alice.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=20
    )
    # Room for the same request's prompt bound and 18 of its 20 output tokens (16 is the minimum).
    cap = prompt_bound(probe.http_request) * 1_000 + 18 * 2_000
    capped = stocked.customer(10_000_000_000, spend_cap=cap)
    upstream.script(Reply(usage=(10, 1_000_000)))  # an upstream that ignores max_tokens
    client = capped.client(gateway.url)

    raw = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=HELLO, max_tokens=20)

    assert raw.headers["x-tollgate-max-tokens-lowered"] == "18"
    assert upstream.requests[-1].body["max_tokens"] == 18
    usage_for(2)
    assert charges(capped.user_id) == [cap]
    assert ApiKey.get_by_id(capped.key_id).spent == cap
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=20)
    assert (caught.value.status_code, caught.value.code) == (402, "insufficient_quota")
    floor = prompt_bound(probe.http_request) * 1_000 + 16 * 2_000
    # Money as people write it: "$0.000121" (three digits below a cent), "$0.00".
    assert f"may cost up to {money_text(floor)} and $0.00 is left under the cap" in caught.value.message
    assert re.fullmatch(r"\$0\.0+[1-9]\d{0,2}", money_text(floor)) and "0000 " not in caught.value.message
    assert len(upstream.requests) == 2


def test_concurrent_requests_of_a_capped_key_never_pass_the_cap(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    capped = stocked.customer(10_000_000_000, spend_cap=300_000)
    gateway = start_gateway()
    # 20,000 each; the upstream answers only once every request was let in or refused.
    upstream.default = Reply(usage=(10, 5), latency_s=60)
    results = statuses_all_at_once(upstream, [capped.client(gateway.url)] * 10, max_tokens=20)

    # A request in flight counts its worst case (134,000) against the cap: two fit in 300,000.
    assert sorted(results) == [200] * 2 + [402] * 8
    usage_for(2)
    assert charges(capped.user_id) == [20_000] * 2


def _statuses(client: openai.OpenAI, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        try:
            client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=20)
            statuses.append(200)
        except openai.APIStatusError as exc:
            statuses.append(exc.status_code)
    return statuses


def test_a_spend_cap_holds_across_two_data_planes(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    capped = stocked.customer(10_000_000_000, spend_cap=300_000)
    one, two = start_gateway(), start_gateway()
    upstream.default = Reply(usage=(10, 5))  # 20,000 each; a request needs 134,000 of room
    assert _statuses(capped.client(two.url), 1) == [200]  # the second process now caches the key
    usage_for(1)
    assert _statuses(capped.client(one.url), 9) == [200] * 8 + [402]
    usage_for(9)
    time.sleep(3 * stocked.settings.config_poll_interval_s)  # a config poll of the second process

    later = _statuses(capped.client(two.url), 3)

    # 180,000 spent: the second process knows, though its own requests spent only 20,000.
    assert later == [402] * 3
    assert sum(charges(capped.user_id)) == 9 * 20_000


def test_group_multiplier_applies_to_the_charge(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    group = accounts.get_or_create_group("premium")
    group.multiplier_ppm = 1_500_000
    group.save()
    customer = stocked.customer(1_000_000_000, group="premium")
    gateway = start_gateway()
    upstream.script(Reply(usage=(3, 1)))

    customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    [record] = usage_for(1)
    assert record.charge == (3 * 1_000 + 1 * 2_000) * 3 // 2
    assert record.cost == 3 * 1_000 + 1 * 2_000
    assert record.multiplier_ppm == 1_500_000


def test_usage_above_the_hold_is_charged_in_full_from_the_balance(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(usage=(10, 1_000_000)))  # an upstream that ignores max_tokens

    raw = alice.client(gateway.url).chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=10
    )

    [record] = usage_for(1)
    priced = 10 * 1_000 + 1_000_000 * 2_000
    hold = prompt_bound(raw.http_request) * 1_000 + 10 * 2_000
    assert record.completion_tokens == 1_000_000
    assert record.cost == priced
    assert (record.charge, record.held, record.shortfall) == (priced, hold, 0)
    # The lease (one 0.2 USD chunk) covered what it had; the balance gave the rest.
    assert record.off_hold == priced - 200_000_000
    assert charges(alice.user_id) == [priced]
    gateway.stop()
    assert balance(alice.user_id) == 10_000_000_000 - priced
    assert billing.reconcile() == [] and billing.overdrafts() == []


def test_usage_the_balance_cannot_cover_is_a_recorded_shortfall_and_never_an_overdraft(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000_000)  # 1 USD; the reply below is priced at 2 USD
    gateway = start_gateway()
    upstream.script(Reply(usage=(10, 1_000_000)))

    customer.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=10)

    [record] = usage_for(1)
    priced = 10 * 1_000 + 1_000_000 * 2_000
    assert record.charge == 1_000_000_000  # everything the balance had
    assert record.shortfall == priced - 1_000_000_000
    assert charges(customer.user_id) == [1_000_000_000]
    gateway.stop()
    assert balance(customer.user_id) == 0
    assert billing.reconcile() == [] and billing.overdrafts() == []


def test_upstream_failure_is_not_billed(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    upstream.script(Reply(status=503))

    with pytest.raises(openai.InternalServerError):
        alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)

    [record] = usage_for(1)
    assert (record.status, record.charge, record.http_status) == ("error", 0, 502)
    assert charges(alice.user_id) == []
    gateway.stop()
    assert balance(alice.user_id) == 10_000_000_000


def test_concurrent_requests_never_overdraw_and_bill_each_success_once(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    # Each request holds its prompt bound plus 400 output tokens (~0.9M nano) and costs 500,000.
    customer = stocked.customer(3_000_000)
    gateway = start_gateway(min_reply_tokens=400)
    # The upstream answers only once every request was let in or refused: no hold is freed early.
    upstream.default = Reply(usage=(100, 200), latency_s=60)
    results = statuses_all_at_once(upstream, [customer.client(gateway.url)] * 10, max_tokens=400)

    successes = results.count(200)
    assert 1 <= successes < 10 and results.count(402) == 10 - successes
    # Three holds of ~0.9M fit in 3M at once; the fourth finds ~0.3M left and is refused.
    assert sorted(results) == [200] * 3 + [402] * 7
    usage_for(successes)
    assert charges(customer.user_id) == [500_000] * successes
    gateway.stop()
    assert balance(customer.user_id) == 3_000_000 - successes * 500_000 >= 0
    assert active_holds() == 0
    assert billing.reconcile() == []
    assert UsageRecord.select().count() == successes


def test_leases_are_given_back_when_idle(
    gateway: ServerThread, upstream: FakeUpstream, alice: Customer
) -> None:
    alice.client(gateway.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    usage_for(1)

    eventually(lambda: active_holds() == 0, what="the idle lease to be released")
    assert balance(alice.user_id) == 10_000_000_000 - 20_000


def test_lowered_cap_is_announced_on_streams_too(
    stocked: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    customer = stocked.customer(1_000_000)
    gateway = start_gateway()

    with customer.client(gateway.url).chat.completions.with_streaming_response.create(
        model=CHAT_MODEL, messages=HELLO, max_completion_tokens=100_000, stream=True
    ) as response:
        lowered = int(response.headers["x-tollgate-max-tokens-lowered"])
        text = "".join(c.choices[0].delta.content or "" for c in response.parse())

    assert text == "Hello from upstream"
    assert upstream.requests[-1].body["max_completion_tokens"] == lowered < 500
    assert lowered == affordable_output(1_000_000, response.http_request)
