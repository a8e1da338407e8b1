"""The bounds on every number a request parse reads (no server): the edges pass, one past is a 400
naming the field, and so is anything that is not a plain JSON integer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from dataplane.bodies import (
    MAX_N,
    MAX_OUTPUT_TOKENS,
    MAX_PROMPT_TOKENS,
    bounded_int,
    bounded_prompt,
    parse_chat,
)
from dataplane.dialects.anthropic.wire import parse_messages
from dataplane.dialects.completions import parse_completions
from dataplane.dialects.responses.wire import parse_responses
from dataplane.endpoints import responses
from dataplane.errors import GatewayError
from shared.group_admin import MAX_MULTIPLIER_PPM
from shared.money import MAX_NANO, Prices, worst_case

HELLO = [{"role": "user", "content": "hi"}]
BASES: dict[str, dict[str, Any]] = {
    "chat": {"model": "m", "messages": HELLO},
    "completions": {"model": "m", "prompt": "hi"},
    "responses": {"model": "m", "input": "hi"},
    "messages": {"model": "m", "messages": HELLO, "max_tokens": 16},
    "count_tokens": {"model": "m", "messages": HELLO},
}
PARSERS: dict[str, Callable[[bytes, dict[str, Any]], Any]] = {
    "chat": parse_chat,
    "completions": parse_completions,
    "responses": parse_responses,
    "messages": parse_messages,
    "count_tokens": lambda raw, body: parse_messages(raw, body, need_max_tokens=False),
}
# (API, field path, lowest accepted, highest accepted, what the parse reports it as)
BOUNDS = [
    ("chat", "max_tokens", 1, MAX_OUTPUT_TOKENS, "requested_cap"),
    ("chat", "max_completion_tokens", 1, MAX_OUTPUT_TOKENS, "requested_cap"),
    ("chat", "n", 1, MAX_N, "n"),
    ("completions", "max_tokens", 1, MAX_OUTPUT_TOKENS, "requested_cap"),
    ("completions", "n", 1, MAX_N, "n"),
    ("completions", "best_of", 1, 20, "n"),
    ("completions", "logprobs", 0, 5, None),
    ("responses", "max_output_tokens", 1, MAX_OUTPUT_TOKENS, "max_output_tokens"),
    ("messages", "max_tokens", 1, MAX_OUTPUT_TOKENS, "max_tokens"),
    ("messages", "thinking.budget_tokens", 1, MAX_OUTPUT_TOKENS, None),
    ("count_tokens", "max_tokens", 1, MAX_OUTPUT_TOKENS, "max_tokens"),
    ("count_tokens", "thinking.budget_tokens", 1, MAX_OUTPUT_TOKENS, None),
]
NOT_INTEGERS = [True, False, 10.0, 1.5, 1e20, 2.0**64, "10", [], {}]
IDS = [f"{api}:{path}" for api, path, *_ in BOUNDS]


def _body(api: str, path: str, value: Any) -> dict[str, Any]:
    """The API's minimal valid body with `path` (one level of nesting at most) set to `value`."""
    body = dict(BASES[api])
    head, _, leaf = path.partition(".")
    if leaf:
        body[head] = {"type": "enabled", leaf: value}
    else:
        body[head] = value
    return body


def _parse(api: str, body: dict[str, Any]) -> Any:
    return PARSERS[api](orjson.dumps(body), body)


def _refused(api: str, path: str, value: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        _parse(api, _body(api, path, value))
    return caught.value


@pytest.mark.parametrize(("api", "path", "low", "high", "attr"), BOUNDS, ids=IDS)
def test_the_edges_are_accepted(api: str, path: str, low: int, high: int, attr: str | None) -> None:
    for value in (low, high):
        parsed = _parse(api, _body(api, path, value))
        if attr is not None:
            assert getattr(parsed, attr) == value


@pytest.mark.parametrize(("api", "path", "low", "high", "attr"), BOUNDS, ids=IDS)
def test_one_past_each_edge_is_refused_naming_the_field(
    api: str, path: str, low: int, high: int, attr: str | None
) -> None:
    for value in (low - 1, high + 1, 2**63, 2**64 - 1, -(2**63)):
        error = _refused(api, path, value)
        assert (error.status, error.param) == (400, path)
        assert f"from {low} to {high}" in error.message


@pytest.mark.parametrize(("api", "path", "low", "high", "attr"), BOUNDS, ids=IDS)
@pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
def test_what_is_not_a_json_integer_is_refused(
    api: str, path: str, low: int, high: int, attr: str | None, value: Any
) -> None:
    error = _refused(api, path, value)
    assert (error.status, error.param) == (400, path)


@pytest.mark.parametrize(("api", "path", "low", "high", "attr"), BOUNDS, ids=IDS)
def test_null_is_absent(api: str, path: str, low: int, high: int, attr: str | None) -> None:
    if (api, path) == ("messages", "max_tokens"):
        assert _refused(api, path, None).param == "max_tokens"  # required on /v1/messages
    else:
        _parse(api, _body(api, path, None))


def test_a_float_is_told_to_be_a_whole_number() -> None:
    error = _refused("chat", "max_tokens", 10.0)
    assert error.message == "`max_tokens` must be a whole number (no decimal point or exponent) " + (
        f"from 1 to {MAX_OUTPUT_TOKENS}, got 10.0."
    )


def test_a_long_refused_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(GatewayError) as caught:
        bounded_int({"n": ["x" * 1_000]}, "n", 1, 2)
    assert len(caught.value.message) < 120 and caught.value.message.endswith("….")


def test_thinking_must_be_an_object() -> None:
    body = {**BASES["messages"], "thinking": "on"}
    with pytest.raises(GatewayError) as caught:
        parse_messages(orjson.dumps(body), body)
    assert caught.value.param == "thinking"


def test_best_of_counts_as_the_choices_paid_for() -> None:
    assert _parse("completions", {**BASES["completions"], "n": 2, "best_of": 20}).n == 20


def test_the_largest_hold_the_bounds_allow_is_far_below_a_bigint() -> None:
    """MAX_OUTPUT_TOKENS × MAX_N plus MAX_PROMPT_TOKENS at $1,000 per 1M tokens and the top multiplier."""
    dear = Prices(input=10**12, output=10**12)
    hold = worst_case(MAX_PROMPT_TOKENS, MAX_OUTPUT_TOKENS * MAX_N, dear, MAX_MULTIPLIER_PPM)
    assert hold * 30 < MAX_NANO


def test_a_prompt_bound_is_capped() -> None:
    assert bounded_prompt(MAX_PROMPT_TOKENS * 5) == MAX_PROMPT_TOKENS
    assert bounded_prompt(123) == 123


def test_each_input_file_is_allowed_its_own_decoded_size() -> None:
    """Three 4,000-byte files: 3 × 3,000 tokens (not a running total, 3,000 + 6,000 + 9,000)."""
    part = {"type": "input_file", "filename": "a.txt", "file_data": "A" * 4_000}
    body = {"model": "m", "input": [{"role": "user", "content": [part, part, part]}]}
    raw = orjson.dumps(body)
    bound = responses.prompt_bound(raw, [], parse_responses(raw, body))
    assert bound == len(raw) + len(b"[]") - 3 * 4_000 + 3 * 3_000 + 16  # the body, an empty history


def test_many_empty_image_parts_cannot_claim_more_than_the_ceiling() -> None:
    """540,000 parts of 2,000 tokens each fit in the default 20 MiB body: 1.08e9 tokens, capped."""
    part = {"type": "input_image", "image_url": ""}
    body = {"model": "m", "input": [{"role": "user", "content": [part] * 540_000}]}
    raw = orjson.dumps(body)
    assert len(raw) < 20 * 1024 * 1024
    assert responses.prompt_bound(raw, [], parse_responses(raw, body)) == MAX_PROMPT_TOKENS
