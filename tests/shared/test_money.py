"""Integer money: parsing, printing and pricing are exact to the nano-dollar."""

from __future__ import annotations

import pytest

from shared.money import (
    AmountError,
    Prices,
    TokenUsage,
    affordable_output_tokens,
    format_usd,
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
