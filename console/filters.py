"""Jinja filters: money for people (prices to the last digit), prices by meter, modalities, UTC times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask

from console.i18n import current_language
from shared.money import NANO_PER_USD, ceil_div
from shared.money_text import money_text, style_of
from shared.price_sheet import TOKEN_PRICE_FIELDS, meter_help, meter_uses, other_meters, price_sheet

PPM = 1_000_000
MODALITY_LABELS = {
    "chat": "Chat", "embedding": "Embeddings", "image": "Images", "transcription": "Transcription",
    "speech": "Speech", "moderation": "Moderation", "rerank": "Rerank",
}  # fmt: skip


def usd(nano: int | None, sign: bool = False, exact: bool = False, locale: str | None = None) -> str:
    """An amount for people in the page's language: "$1,019.94", "$0.000343", "-$2.00"
    (shared/money_text.py)."""
    if nano is None:
        return "—"
    return money_text(int(nano), locale or current_language(), exact, sign)


def price(nano: int | None, locale: str | None = None) -> str:
    """A unit price with every digit it has: "$0.075", "$1,250.00"."""
    return usd(nano, exact=True, locale=locale)


def usd_plain(nano: int | None) -> str:
    """An amount as a plain decimal for form fields and CSV ("1.5", "0.000123")."""
    if nano is None:
        return ""
    text = f"{Decimal(int(nano)) / NANO_PER_USD:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def with_multiplier(price: int | None, multiplier_ppm: int) -> int | None:
    """A per-1M price as a group pays it (rounded up, as charges are)."""
    if price is None:
        return None
    return ceil_div(price * multiplier_ppm, PPM)


def when(value: dt.datetime | None) -> str:
    """A naive-UTC timestamp as "2025-01-31 14:05 UTC"."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def number(value: int | None) -> str:
    """An integer with the page's language's thousands separators ("12,345"; "12.345" in Vietnamese)."""
    return "—" if value is None else f"{int(value):,}".replace(",", style_of(current_language()).group)


def multiplier(ppm: int) -> str:
    """Parts per million as "×1.2"."""
    return "×" + f"{Decimal(ppm) / PPM:f}".rstrip("0").rstrip(".")


def modality(name: str) -> str:
    """A modality as the catalogue names it ("image" → "Images")."""
    return MODALITY_LABELS.get(name, name)


def register(app: Flask) -> None:
    """Make the filters available in every template."""
    app.jinja_env.filters.update(
        usd=usd,
        price=price,
        usd_plain=usd_plain,
        when=when,
        number=number,
        multiplier=multiplier,
        modality=modality,
    )
    app.jinja_env.globals.update(
        with_multiplier=with_multiplier, price_sheet=price_sheet, other_meters=other_meters,
        meter_uses=meter_uses, modality_labels=MODALITY_LABELS, meter_help=meter_help,
        token_price_fields=TOKEN_PRICE_FIELDS,
    )  # fmt: skip
