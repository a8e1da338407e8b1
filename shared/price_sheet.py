"""A price list as people read it: every meter priced, with its label and price unit, in one order.

The CLI, the console's pages and the public catalogue JSON list a model's prices this way, and the
CLI and the console read `METER=USD` entries ("image:1024x1024:hd=0.08") the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.meters import METERS, Meter, UnknownMeter, label_of, meter_of
from shared.money import PPM, AmountError, ceil_div, format_usd, parse_usd

TOKEN_PRICE_FIELDS = ("input", "output", "cached_input")  # the meters with a column of their own
AMOUNT_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")  # plain decimals only: no exponents, no NaN
_ORDER = {name: index for index, name in enumerate(METERS)}
# What each meter that is not tokens counts, as a usage record stores its quantity.
COUNTED = {"image": "images", "audio_second": "ms", "characters": "characters", "request": "requests"}


@dataclass(frozen=True)
class MeterPrice:
    """One meter's price: nano-USD per the meter's price unit."""

    meter: str
    nano: int

    @property
    def label(self) -> str:
        return label_of(self.meter)

    @property
    def per(self) -> str:
        return meter_of(self.meter).price_unit

    @property
    def token(self) -> bool:
        return meter_of(self.meter).token

    def as_json(self) -> dict[str, str]:
        """The stable public shape: {"meter", "label", "usd" (9 decimals), "per"}."""
        return {"meter": self.meter, "label": self.label, "usd": format_usd(self.nano), "per": self.per}


def meter_help(skip: Iterable[str] = ()) -> str:
    """The meters a price may name, by price unit ("input, … per 1M tokens; … per image; …")."""
    skipped = set(skip)
    by_unit: dict[str, list[str]] = {}
    for meter in METERS.values():
        if meter.name not in skipped:
            name = "image[:SIZE][:QUALITY]" if meter.name == "image" else meter.name
            by_unit.setdefault(meter.price_unit, []).append(name)
    return "; ".join(f"{', '.join(names)} per {unit}" for unit, names in by_unit.items())


class MeterPriceError(ValueError):
    """A `METER=USD` entry that names no known meter or no valid amount."""


def _order(name: str) -> tuple[int, int, str]:
    base = name.partition(":")[0]
    return _ORDER.get(base, len(_ORDER)), name.count(":"), name


def sorted_meters(names: Iterable[str]) -> list[str]:
    """Meter names in METERS order, each image's qualified names after its plain one."""
    return sorted(names, key=_order)


def price_sheet(prices: Mapping[str, int], multiplier_ppm: int = PPM) -> list[MeterPrice]:
    """Every meter `prices` sets, as a group with this multiplier pays it (rounded up, as charges are)."""
    return [MeterPrice(name, ceil_div(prices[name] * multiplier_ppm, PPM)) for name in sorted_meters(prices)]


def other_meters(prices: Mapping[str, int]) -> dict[str, int]:
    """The prices of every meter besides input, output and cached input, in sheet order."""
    return {name: prices[name] for name in sorted_meters(prices) if name not in TOKEN_PRICE_FIELDS}


def parse_entry(text: str) -> tuple[str, int]:
    """`"image:1024x1024:hd=0.08"` → ("image:1024x1024:hd", 80_000_000); MeterPriceError otherwise."""
    meter, sep, amount = text.partition("=")
    meter = meter.strip()
    if not sep or not meter or not amount.strip():
        raise MeterPriceError(f"expected METER=USD, got {text.strip()!r}")
    try:
        meter_of(meter)
    except UnknownMeter as exc:
        raise MeterPriceError(str(exc)) from exc
    amount = amount.strip().removeprefix("$")
    if not AMOUNT_RE.match(amount):
        raise MeterPriceError(f"{meter}: not an amount in USD: {amount!r}")
    try:
        nano = parse_usd(amount)
    except AmountError as exc:
        raise MeterPriceError(f"{meter}: {exc}") from exc
    if nano < 0:
        raise MeterPriceError(f"{meter}: must not be negative")
    return meter, nano


def parse_entries(entries: Iterable[str]) -> dict[str, int]:
    """{meter: nano-USD} from `METER=USD` entries (blank ones skipped); a meter given twice is refused."""
    prices: dict[str, int] = {}
    for entry in entries:
        if not entry.strip():
            continue
        meter, nano = parse_entry(entry)
        if meter in prices:
            raise MeterPriceError(f"{meter} is priced twice")
        prices[meter] = nano
    return prices


def format_entries(prices: Mapping[str, int]) -> str:
    """`METER=USD` lines (plain decimals) for a form to edit, in sheet order."""
    lines = []
    for name in sorted_meters(prices):
        text = format_usd(prices[name]).rstrip("0").rstrip(".")
        lines.append(f"{name}={text or '0'}")
    return "\n".join(lines)


def _meter(name: str) -> Meter | None:
    try:
        return meter_of(name)
    except UnknownMeter:
        return None


@dataclass(frozen=True)
class MeterUse:
    """How much of one meter a request used, at what unit price (a usage record's `meters` entry)."""

    meter: str
    quantity: int  # in the counted unit: tokens, images, milliseconds, characters, requests
    nano: int  # nano-USD per the meter's price unit

    @property
    def label(self) -> str:
        return label_of(self.meter)

    @property
    def per(self) -> str:
        meter = _meter(self.meter)
        return meter.price_unit if meter else ""

    @property
    def counted(self) -> str:
        meter = _meter(self.meter)
        if meter is not None and meter.token:
            return "tokens"
        return COUNTED.get(self.meter.partition(":")[0], "")

    def amount_text(self) -> str:
        """The quantity as people read it: "1,234 tokens", "2 images", "3.5 s" (audio counts ms)."""
        if self.counted == "ms":
            return f"{Decimal(self.quantity).scaleb(-3).normalize():f} s"
        return f"{self.quantity:,} {self.counted}".rstrip()

    def as_json(self) -> dict[str, str | int]:
        """{"meter", "label", "quantity", "counted" (its unit), "unit_price_usd", "per"}."""
        return {
            "meter": self.meter,
            "label": self.label,
            "quantity": self.quantity,
            "counted": self.counted,
            "unit_price_usd": format_usd(self.nano),
            "per": self.per,
        }


def meter_uses(meters: Mapping[str, Sequence[int]] | None) -> list[MeterUse]:
    """A usage record's {meter: [quantity, unit price]} as MeterUse, in sheet order."""
    values = meters or {}
    return [MeterUse(name, int(values[name][0]), int(values[name][1])) for name in sorted_meters(values)]
