"""Integer money: nano-USD amounts, prices per 1M tokens, and what a request costs.

1 unit = 1e-9 USD. Every computation here is on integers; `Decimal` is used only to parse and
print human-written amounts, never to compute a charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

NANO_PER_USD = 1_000_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are per 1M tokens
PPM = 1_000_000  # multipliers are parts per million
MAX_NANO = 2**63 - 1  # what a BIGINT column holds


class AmountError(ValueError):
    """A human-written amount that is not a valid number of dollars."""


def parse_usd(text: str | int | Decimal) -> int:
    """Parse "4.25" (USD) into nano-USD exactly; reject more than 9 decimals or non-numbers."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise AmountError(f"not an amount in USD: {text!r}") from exc
    if not value.is_finite():
        raise AmountError(f"not an amount in USD: {text!r}")
    nano = value * NANO_PER_USD
    if nano != nano.to_integral_value():
        raise AmountError(f"{text!r} has more than 9 decimals (the smallest unit is 1e-9 USD)")
    if abs(nano) > MAX_NANO:
        raise AmountError(f"{text!r} is too large")
    return int(nano)


def format_usd(nano: int, places: int = 9) -> str:
    """Render nano-USD as a decimal string in USD, e.g. 4_999_922_000 -> "4.999922000"."""
    value = Decimal(nano).scaleb(-9)
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_EVEN):f}"


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounding up (for non-negative numerators)."""
    return -(-numerator // denominator)


@dataclass(frozen=True)
class Prices:
    """Unit prices of one model in nano-USD per 1M tokens."""

    input: int
    output: int
    cached_input: int | None = None

    @property
    def cached(self) -> int:
        """The cached-input price, falling back to the input price."""
        return self.input if self.cached_input is None else self.cached_input


@dataclass(frozen=True)
class TokenUsage:
    """Tokens one request used, by class. `cached_tokens` is part of `prompt_tokens`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def price_of(usage: TokenUsage, prices: Prices, multiplier_ppm: int = PPM) -> int:
    """ceil(Σ tokens × price / 1M × multiplier), in one integer rounding.

    Reasoning tokens are counted inside completion tokens (as OpenAI reports them), so they
    are billed at the output price once.
    """
    cached = min(max(usage.cached_tokens, 0), max(usage.prompt_tokens, 0))
    uncached = max(usage.prompt_tokens, 0) - cached
    weighted = (
        uncached * prices.input + cached * prices.cached + max(usage.completion_tokens, 0) * prices.output
    )
    return ceil_div(weighted * multiplier_ppm, TOKENS_PER_PRICE_UNIT * PPM)


def worst_case(prompt_tokens: int, output_tokens: int, prices: Prices, multiplier_ppm: int = PPM) -> int:
    """The most a request with this prompt bound and output cap can cost."""
    return price_of(
        TokenUsage(prompt_tokens=prompt_tokens, completion_tokens=output_tokens), prices, multiplier_ppm
    )


def affordable_output_tokens(
    budget: int, prompt_tokens: int, prices: Prices, multiplier_ppm: int = PPM
) -> int:
    """The largest output cap whose worst case fits in `budget` (0 if none does)."""
    prompt_cost = worst_case(prompt_tokens, 0, prices, multiplier_ppm)
    if budget < prompt_cost:
        return 0
    if prices.output <= 0:
        return 1 << 31
    # Each output token costs output × multiplier / (1M × PPM) units; invert with floor division
    # and step down until the rounded-up cost fits.
    per_token_scaled = prices.output * multiplier_ppm
    tokens = ((budget - prompt_cost) * TOKENS_PER_PRICE_UNIT * PPM) // per_token_scaled
    while tokens > 0 and worst_case(prompt_tokens, tokens, prices, multiplier_ppm) > budget:
        tokens -= 1
    return tokens
