"""Micro-USDT to balance units (nano-USD), computed once with integers and rounded down."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from shared.errors import InvalidInput
from shared.money import NANO_PER_USD

MICRO_PER_USDT = 1_000_000


@dataclass(frozen=True)
class Rate:
    """USD per USDT as an exact fraction, with where it came from (stored on each deposit)."""

    text: str
    numerator: int
    denominator: int
    source: str

    def units(self, amount_micro: int) -> int:
        """Balance units for `amount_micro`, floored (rounding favours the operator)."""
        return (amount_micro * NANO_PER_USD * self.numerator) // (MICRO_PER_USDT * self.denominator)


def parse_rate(text: str, set_on: str = "") -> Rate:
    """Parse a positive decimal like "1" or "0.98"; "1" is the peg, anything else a manual rate."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise InvalidInput("rate", f"not a number: {text!r}") from exc
    if not value.is_finite() or value <= 0 or value > 1000:
        raise InvalidInput("rate", "must be a positive number of USD per USDT (at most 1000)")
    if value.as_tuple().exponent < -9:  # type: ignore[operator]
        raise InvalidInput("rate", "at most 9 decimals")
    numerator, denominator = value.as_integer_ratio()
    normalized = format(value.normalize(), "f")
    source = "config:peg" if value == 1 else f"config:manual@{set_on}" if set_on else "config:manual"
    return Rate(normalized, numerator, denominator, source)


def format_usdt(amount_micro: int) -> str:
    """Micro-USDT as a decimal string, e.g. 12340000 -> "12.34"."""
    text = format(Decimal(amount_micro).scaleb(-6), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
