"""What a price can be per: the meters (input tokens, images, audio seconds, …).

A model's price list maps meter names to nano-USD per the meter's price unit. Token meters are
priced per 1M tokens; an image per image; audio per second (counted in milliseconds); speech per
1k characters; a request per request. A meter left unpriced falls back to a related one
(`fallback`): cached input, cache writes and audio input to input, reasoning and audio output
to output, so a model priced only for input and output bills every token class as it always did.

Image meters carry optional qualifiers, size and quality: `image:1024x1024:hd`, `image:hd`,
`image:1024x1024` and `image` are looked up from the most to the least specific.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Meter:
    """One thing a price can be per."""

    name: str
    label: str
    price_unit: str  # what one price is for, as shown: "1M tokens", "image", "second", ...
    per: int  # counted units one price covers (1M tokens; 1,000 ms in a second)
    token: bool = False  # counted in tokens (rate limits, usage columns)
    fallback: str | None = None  # the meter whose price applies when this one has none


TOKENS = 1_000_000

METERS: dict[str, Meter] = {
    m.name: m
    for m in (
        Meter("input", "Input tokens", "1M tokens", TOKENS, token=True),
        Meter("cached_input", "Cached input tokens", "1M tokens", TOKENS, token=True, fallback="input"),
        Meter("cache_write", "Cache-write tokens", "1M tokens", TOKENS, token=True, fallback="input"),
        Meter("output", "Output tokens", "1M tokens", TOKENS, token=True),
        Meter("reasoning", "Reasoning tokens", "1M tokens", TOKENS, token=True, fallback="output"),
        Meter("audio_input", "Audio input tokens", "1M tokens", TOKENS, token=True, fallback="input"),
        Meter("audio_output", "Audio output tokens", "1M tokens", TOKENS, token=True, fallback="output"),
        Meter("image", "Images", "image", 1),
        Meter("audio_second", "Audio seconds", "second", 1_000),  # counted in milliseconds
        Meter("characters", "Characters", "1k characters", 1_000),
        Meter("request", "Requests", "request", 1),
    )
}
TOKEN_METERS = tuple(name for name, m in METERS.items() if m.token)
IMAGE_SIZE_RE = re.compile(r"^(\d{2,5}x\d{2,5}|auto)$")
IMAGE_QUALITIES = ("auto", "low", "medium", "high", "standard", "hd")


class UnknownMeter(ValueError):
    """A meter name that is not one of METERS (or a malformed image qualifier)."""


def image_meter(size: str | None, quality: str | None) -> str:
    """The most specific image meter name for a size and a quality (either may be None)."""
    parts = ["image"]
    if size:
        parts.append(size)
    if quality:
        parts.append(quality)
    return ":".join(parts)


def meter_of(name: str) -> Meter:
    """The meter a (possibly qualified) meter name counts, or UnknownMeter."""
    base, _, qualifiers = name.partition(":")
    meter = METERS.get(base)
    if meter is None:
        raise UnknownMeter(f"unknown meter {name!r}; one of: {', '.join(METERS)} (image:SIZE:QUALITY)")
    if qualifiers:
        if base != "image":
            raise UnknownMeter(f"only image meters take qualifiers, got {name!r}")
        for part in qualifiers.split(":"):
            if not (IMAGE_SIZE_RE.match(part) or part in IMAGE_QUALITIES):
                raise UnknownMeter(f"{part!r} in {name!r} is neither a size like 1024x1024 nor a quality")
    return meter


def lookup_order(name: str) -> tuple[str, ...]:
    """The names whose price applies to `name`, most specific first (ending at its fallbacks)."""
    base, _, qualifiers = name.partition(":")
    names: list[str] = []
    if qualifiers:
        parts = qualifiers.split(":")
        if len(parts) == 2:
            names.append(name)
        names.extend(f"{base}:{part}" for part in parts)
    names.append(base)
    meter = METERS.get(base)
    while meter is not None and meter.fallback:
        names.append(meter.fallback)
        meter = METERS.get(meter.fallback)
    return tuple(dict.fromkeys(names))


def label_of(name: str) -> str:
    """A meter's name for people, with its qualifiers: "Images (1024x1024, hd)"."""
    base, _, qualifiers = name.partition(":")
    meter = METERS.get(base)
    label = meter.label if meter else name
    return f"{label} ({qualifiers.replace(':', ', ')})" if qualifiers else label
