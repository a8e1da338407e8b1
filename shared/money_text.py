"""Money written for people, the same in the console and in the data plane's error texts.

    money_text(1_019_935_499_600)        → "$1,019.94"     amounts: cents, digits grouped
    money_text(343_000)                  → "$0.000343"     below a cent: three significant digits
    money_text(75_000_000, exact=True)   → "$0.075"        prices: every digit there is

The `locale` picks the separators and where the sign and currency go: English ("$1,019.94") and
Vietnamese ("1.019,94 US$", as Vietnamese writes dollars); any other locale falls back to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from shared.money import NANO_PER_USD

CENT = NANO_PER_USD // 100
SMALL_DIGITS = 3  # significant digits of an amount below a cent


@dataclass(frozen=True)
class MoneyStyle:
    """How one locale writes an amount in USD."""

    group: str  # between groups of three digits
    decimal: str  # before the fraction
    pattern: str  # where the sign and the number go


STYLES = {
    "en": MoneyStyle(",", ".", "{sign}${number}"),
    "vi": MoneyStyle(".", ",", "{sign}{number} US$"),
}
DEFAULT_LOCALE = "en"


def style_of(locale: str) -> MoneyStyle:
    """The style of `locale` ("en", "en_US", "en-GB"), English when none is written for it."""
    language = locale.replace("-", "_").split("_")[0].lower()
    return STYLES.get(locale) or STYLES.get(language) or STYLES[DEFAULT_LOCALE]


def _digits(value: Decimal, exact: bool) -> str:
    """The unsigned amount in dollars as plain digits ("1019.94", "0.000343")."""
    if exact:
        text = f"{value:.9f}".rstrip("0")
        whole, _, fraction = text.partition(".")
        return f"{whole}.{fraction.ljust(2, '0')}"
    if value == 0 or value * 100 >= 1:
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):f}"
    # Below a cent: enough places for three significant digits, never past the nano-dollar.
    places = min(9, SMALL_DIGITS - value.adjusted() - 1)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{rounded:f}".rstrip("0").rstrip(".")


def money_text(nano: int, locale: str = DEFAULT_LOCALE, exact: bool = False, sign: bool = False) -> str:
    """An amount of nano-USD for people; `exact` keeps every digit (prices), `sign` writes a "+"."""
    style = style_of(locale)
    whole, _, fraction = _digits(Decimal(abs(int(nano))) / NANO_PER_USD, exact).partition(".")
    number = f"{int(whole):,}".replace(",", style.group) + (style.decimal + fraction if fraction else "")
    prefix = "-" if nano < 0 else ("+" if sign and nano > 0 else "")
    return style.pattern.format(sign=prefix, number=number)
