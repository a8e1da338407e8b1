"""Integer money: nano-USD amounts, prices by meter (shared/meters.py), and what a request costs.

1 unit = 1e-9 USD. Every computation here is on integers; `Decimal` is used only to parse and
print human-written amounts, never to compute a charge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from shared.meters import lookup_order, meter_of

NANO_PER_USD = 1_000_000_000
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are per 1M tokens
PPM = 1_000_000  # multipliers are parts per million
MAX_NANO = 2**63 - 1  # what a BIGINT column holds


class AmountError(ValueError):
    """A human-written amount that is not a valid number of dollars."""


# What people write for dollars: "4.25", "-3", "$1,000.50", ".5"; no exponent, inf or nan, 15 digits at most.
AMOUNT = re.compile(r"[+-]?\$?(?:\d{1,15}|\d{1,3}(?:,\d{3}){1,4})?(?:\.\d{1,20})?")


def parse_usd(text: str | int | Decimal) -> int:
    """Parse "4.25" (USD) into nano-USD exactly; reject more than 9 decimals or non-numbers."""
    written = str(text).strip()
    if not isinstance(text, Decimal) and not (
        AMOUNT.fullmatch(written) and any(c.isdigit() for c in written)
    ):
        raise AmountError(f"not an amount in USD: {text!r} (write digits, e.g. 1000 or 12.50)")
    try:
        value = Decimal(written.replace("$", "").replace(",", ""))
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


class Prices:
    """A model's (or route's) unit prices by meter, in nano-USD per each meter's price unit.

    `input`, `output` and `cached_input` are the classic token prices; `meters` holds any other
    meter (shared/meters.py). Lookups fall back as the meters say, so an unpriced cached input
    costs the input price and unpriced reasoning the output price.
    """

    __slots__ = (
        "_map",
        "input",
        "output",
        "cached",
        "cache_write",
        "reasoning",
        "audio_input",
        "audio_output",
        "dearest_input",
        "dearest_output",
    )

    def __init__(
        self,
        input: int = 0,
        output: int = 0,
        cached_input: int | None = None,
        meters: Mapping[str, int] | None = None,
    ) -> None:
        values = {"input": input, "output": output}
        if cached_input is not None:
            values["cached_input"] = cached_input
        values.update(meters or {})
        self._map: dict[str, int] = values
        self.input = values["input"]
        self.output = values["output"]
        self.cached = self.of("cached_input")
        self.cache_write = self.of("cache_write")
        self.reasoning = self.of("reasoning")
        self.audio_input = self.of("audio_input")
        self.audio_output = self.of("audio_output")
        # What a token costs at most, on each side (holds price every token at these).
        self.dearest_input = max(self.input, self.cached, self.cache_write, self.audio_input)
        self.dearest_output = max(self.output, self.reasoning, self.audio_output)

    @classmethod
    def from_map(cls, prices: Mapping[str, int] | None) -> Prices:
        """Prices from a stored {meter: price} map (missing input or output: 0)."""
        values = dict(prices or {})
        return cls(values.pop("input", 0), values.pop("output", 0), values.pop("cached_input", None), values)

    @property
    def cached_input(self) -> int | None:
        """The cached-input price as set (None: it falls back to the input price)."""
        return self._map.get("cached_input")

    def to_map(self) -> dict[str, int]:
        """The prices as set, {meter: price} (what is stored)."""
        return dict(self._map)

    def of(self, name: str) -> int:
        """The price that applies to meter `name` (its own, else its fallbacks'; 0 if none)."""
        values = self._map
        if name in values:
            return values[name]
        for candidate in lookup_order(name):
            if candidate in values:
                return values[candidate]
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prices) and other._map == self._map

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._map.items())))

    def __repr__(self) -> str:
        return f"Prices({self._map!r})"


@dataclass(frozen=True)
class TokenUsage:
    """What one request used, by meter.

    Token classes nest: `cached_tokens`, `cache_write_tokens` and `audio_input_tokens` are parts
    of `prompt_tokens`; `reasoning_tokens` and `audio_output_tokens` parts of `completion_tokens`.
    `counts` holds the meters that are not tokens ({"image:1024x1024:hd": 2, "audio_second": 3_500}).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def quantities(self) -> dict[str, int]:
        """The quantity of every meter used (each token in exactly one token meter), zeros left out."""
        if not (
            self.cache_write_tokens or self.audio_input_tokens or self.audio_output_tokens or self.counts
        ):
            return self._plain_quantities()
        prompt = max(self.prompt_tokens, 0)
        cached = _part(self.cached_tokens, prompt)
        write = _part(self.cache_write_tokens, prompt - cached)
        audio_in = _part(self.audio_input_tokens, prompt - cached - write)
        completion = max(self.completion_tokens, 0)
        reasoning = _part(self.reasoning_tokens, completion)
        audio_out = _part(self.audio_output_tokens, completion - reasoning)
        values = {
            "input": prompt - cached - write - audio_in,
            "cached_input": cached,
            "cache_write": write,
            "audio_input": audio_in,
            "output": completion - reasoning - audio_out,
            "reasoning": reasoning,
            "audio_output": audio_out,
        }
        values.update(self.counts)
        return {name: q for name, q in values.items() if q > 0}

    def _plain_quantities(self) -> dict[str, int]:
        """`quantities` of a usage with only input, cached, output and reasoning tokens (most requests)."""
        prompt = max(self.prompt_tokens, 0)
        cached = _part(self.cached_tokens, prompt)
        completion = max(self.completion_tokens, 0)
        reasoning = _part(self.reasoning_tokens, completion)
        values = {}
        if prompt > cached:
            values["input"] = prompt - cached
        if cached:
            values["cached_input"] = cached
        if completion > reasoning:
            values["output"] = completion - reasoning
        if reasoning:
            values["reasoning"] = reasoning
        return values


def meter_map(usage: TokenUsage, prices: Prices) -> dict[str, list[int]]:
    """Every meter a usage bills, with its quantity and unit price: {meter: [quantity, price]}."""
    resolved = {"input": prices.input, "output": prices.output}
    return {
        name: [quantity, resolved[name] if name in resolved else prices.of(name)]
        for name, quantity in usage.quantities().items()
    }


def _part(value: int, room: int) -> int:
    return min(max(value, 0), max(room, 0))


def _weight(name: str) -> int:
    """Counted units × price × this = a numerator over TOKENS_PER_PRICE_UNIT (one common rounding)."""
    return TOKENS_PER_PRICE_UNIT // meter_of(name).per


def price_of(usage: TokenUsage, prices: Prices, multiplier_ppm: int = PPM) -> int:
    """ceil(Σ quantity × price / price unit × multiplier) over every meter, in one integer rounding.

    Reasoning tokens are counted inside completion tokens (as OpenAI reports them), so they are
    billed once: at the reasoning price, which is the output price unless set.
    """
    prompt = max(usage.prompt_tokens, 0)
    completion = max(usage.completion_tokens, 0)
    cached = _part(usage.cached_tokens, prompt)
    weighted = (prompt - cached) * prices.input + cached * prices.cached + completion * prices.output
    if usage.cache_write_tokens or usage.audio_input_tokens:
        write = _part(usage.cache_write_tokens, prompt - cached)
        audio_in = _part(usage.audio_input_tokens, prompt - cached - write)
        weighted += write * (prices.cache_write - prices.input) + audio_in * (
            prices.audio_input - prices.input
        )
    if usage.reasoning_tokens or usage.audio_output_tokens:
        reasoning = _part(usage.reasoning_tokens, completion)
        audio_out = _part(usage.audio_output_tokens, completion - reasoning)
        weighted += reasoning * (prices.reasoning - prices.output)
        weighted += audio_out * (prices.audio_output - prices.output)
    for name, quantity in usage.counts.items():
        if quantity > 0:
            weighted += quantity * prices.of(name) * _weight(name)
    return ceil_div(weighted * multiplier_ppm, TOKENS_PER_PRICE_UNIT * PPM)


def worst_case(
    prompt_tokens: int,
    output_tokens: int,
    prices: Prices,
    multiplier_ppm: int = PPM,
    counts: Mapping[str, int] | None = None,
) -> int:
    """The most a request with this prompt bound, output cap and other meters can cost.

    Each prompt token is priced at the dearest input class and each output token at the dearest
    output class, since the upstream decides which class a token falls into.
    """
    weighted = prompt_tokens * prices.dearest_input + output_tokens * prices.dearest_output
    for name, quantity in (counts or {}).items():
        weighted += quantity * prices.of(name) * _weight(name)
    return ceil_div(weighted * multiplier_ppm, TOKENS_PER_PRICE_UNIT * PPM)


def affordable_output_tokens(
    budget: int,
    prompt_tokens: int,
    prices: Prices,
    multiplier_ppm: int = PPM,
    counts: Mapping[str, int] | None = None,
) -> int:
    """The largest output cap whose worst case fits in `budget` (0 if none does)."""
    prompt_cost = worst_case(prompt_tokens, 0, prices, multiplier_ppm, counts)
    if budget < prompt_cost:
        return 0
    per_token = prices.dearest_output
    if per_token <= 0:
        return 1 << 31
    # Each output token costs output × multiplier / (1M × PPM) units; invert with floor division
    # and step down until the rounded-up cost fits.
    tokens = ((budget - prompt_cost) * TOKENS_PER_PRICE_UNIT * PPM) // (per_token * multiplier_ppm)
    while tokens > 0 and worst_case(prompt_tokens, tokens, prices, multiplier_ppm, counts) > budget:
        tokens -= 1
    return tokens
