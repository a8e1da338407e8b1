"""Jinja filters: money in USD with sub-cent precision, prices by meter, modalities, UTC times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask

from shared.money import NANO_PER_USD, ceil_div
from shared.price_sheet import TOKEN_PRICE_FIELDS, meter_help, meter_uses, other_meters, price_sheet

PPM = 1_000_000
MODALITY_LABELS = {
    "chat": "Chat", "embedding": "Embeddings", "image": "Images", "transcription": "Transcription",
    "speech": "Speech", "moderation": "Moderation", "rerank": "Rerank",
}  # fmt: skip


def usd(nano: int | None, sign: bool = False) -> str:
    """ "$1.50", "$0.000123", "-$2.00": at least cents, and every non-zero digit below them."""
    if nano is None:
        return "—"
    value = Decimal(abs(int(nano))) / NANO_PER_USD
    text = f"{value:.9f}".rstrip("0")
    whole, _, frac = text.partition(".")
    text = f"{whole}.{frac.ljust(2, '0')}"
    prefix = "-" if nano < 0 else ("+" if sign and nano > 0 else "")
    return f"{prefix}${text}"


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
    """An integer with thousands separators."""
    return "—" if value is None else f"{int(value):,}"


def multiplier(ppm: int) -> str:
    """Parts per million as "×1.2"."""
    return "×" + f"{Decimal(ppm) / PPM:f}".rstrip("0").rstrip(".")


def modality(name: str) -> str:
    """A modality as the catalogue names it ("image" → "Images")."""
    return MODALITY_LABELS.get(name, name)


def register(app: Flask) -> None:
    """Make the filters available in every template."""
    app.jinja_env.filters.update(
        usd=usd, usd_plain=usd_plain, when=when, number=number, multiplier=multiplier, modality=modality
    )
    app.jinja_env.globals.update(
        with_multiplier=with_multiplier, price_sheet=price_sheet, other_meters=other_meters,
        meter_uses=meter_uses, modality_labels=MODALITY_LABELS, meter_help=meter_help,
        token_price_fields=TOKEN_PRICE_FIELDS,
    )  # fmt: skip
