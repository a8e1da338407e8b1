"""Integer money: parsing, printing and pricing are exact to the nano-dollar."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.meters import meter_of
from shared.money import (
    AmountError,
    Prices,
    TokenUsage,
    affordable_output_tokens,
    format_usd,
    meter_map,
    parse_usd,
    price_of,
    worst_case,
)


@pytest.mark.parametrize(
    ("text", "nano"),
    [("5", 5_000_000_000), ("0.000000001", 1), ("-1.5", -1_500_000_000), ("2.50", 2_500_000_000)],
)
def test_parse_usd_is_exact(text: str, nano: int) -> None:
    assert parse_usd(text) == nano


@pytest.mark.parametrize("text", ["abc", "1e400", "0.0000000001", "nan", ""])
def test_parse_usd_rejects_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(AmountError):
        parse_usd(text)


def test_format_usd_keeps_nine_decimals() -> None:
    assert format_usd(4_999_922_000) == "4.999922000"
    assert format_usd(-1) == "-0.000000001"


def test_price_rounds_up_once_over_all_token_classes() -> None:
    prices = Prices(input=2_500_000_000, output=10_000_000_000, cached_input=1_250_000_000)
    usage = TokenUsage(prompt_tokens=1_000, cached_tokens=400, completion_tokens=333)
    # 600 × 2.5 + 400 × 1.25 + 333 × 10 dollars per 1M tokens = 0.00533 USD
    assert price_of(usage, prices) == 5_330_000
    assert price_of(TokenUsage(prompt_tokens=1), Prices(input=1, output=0)) == 1
    assert price_of(usage, prices, multiplier_ppm=1_500_000) == 7_995_000


def test_affordable_output_tokens_is_the_largest_cap_that_fits() -> None:
    prices = Prices(input=1_000_000_000, output=3_000_000_000)
    budget = 100_000
    cap = affordable_output_tokens(budget, 10, prices)
    assert worst_case(10, cap, prices) <= budget < worst_case(10, cap + 1, prices)
    assert affordable_output_tokens(5, 10, prices) == 0


PRICED = Prices(
    input=2_500_000_000,
    output=10_000_000_000,
    cached_input=1_250_000_000,
    meters={"cache_write": 3_125_000_000, "reasoning": 12_000_000_000, "image:1024x1024": 40_000_000},
)
TOKENS = st.integers(-3, 2_000_000)


@settings(max_examples=400, deadline=None)
@given(TOKENS, TOKENS, TOKENS, TOKENS, TOKENS, st.integers(0, 20), st.integers(1_000_000, 3_000_000))
def test_the_meters_on_a_usage_record_add_up_to_its_charge(
    prompt: int, completion: int, cached: int, reasoning: int, written: int, images: int, ppm: int
) -> None:
    counts = {"image:1024x1024": images} if images else {}
    usage = TokenUsage(prompt, completion, cached, reasoning, cache_write_tokens=written, counts=counts)
    weighted = sum(
        quantity * price * (1_000_000 // meter_of(name).per)
        for name, (quantity, price) in meter_map(usage, PRICED).items()
    )
    assert price_of(usage, PRICED, ppm) == -(-weighted * ppm // 10**12)
    assert sum(q for name, (q, _) in meter_map(usage, PRICED).items() if name != "image:1024x1024") == max(
        prompt, 0
    ) + max(completion, 0)


def test_an_unpriced_meter_falls_back_and_images_look_up_the_most_specific_price() -> None:
    prices = Prices(input=7, output=9, meters={"image": 100, "image:hd": 150, "image:1024x1024:hd": 200})
    assert (prices.cached, prices.cache_write, prices.audio_input, prices.reasoning) == (7, 7, 7, 9)
    assert prices.of("image:1024x1024:hd") == 200
    assert prices.of("image:512x512:hd") == 150
    assert prices.of("image:512x512:low") == 100
    assert worst_case(0, 0, prices, counts={"image:512x512:hd": 3}) == 450
