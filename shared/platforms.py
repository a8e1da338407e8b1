"""Regional catalogues: the platforms a model is offered on, and the one each API key belongs to.

A model's stored `platforms` is None when it is offered on every platform (the default, so models
added before platforms existed stay everywhere) or the sorted list it is limited to. A key belongs
to exactly one platform ("intl" unless chosen when it is created): it sees and calls only the
models offered there. There is no "every platform" key, so limiting a model to one platform
really keeps it from every key of the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.errors import InvalidInput

PLATFORMS = ("intl", "cn")
DEFAULT_PLATFORM = "intl"
LABELS = {"intl": "International", "cn": "China"}
EVERY = frozenset(PLATFORMS)


def check_platform(value: str, field: str = "platform") -> str:
    """A known platform name; InvalidInput naming `field` otherwise."""
    if value not in PLATFORMS:
        raise InvalidInput(field, f"must be one of {', '.join(PLATFORMS)}, got {value!r}")
    return value


def stored_platforms(values: Iterable[str] | None) -> list[str] | None:
    """What a model stores for these platforms: None for every one (or None given), else a sorted list.

    An empty selection is refused: a model offered nowhere is a disabled model.
    """
    if values is None:
        return None
    chosen = {check_platform(v, "platforms") for v in values}
    if not chosen:
        raise InvalidInput("platforms", f"choose at least one of {', '.join(PLATFORMS)}")
    return None if chosen == EVERY else sorted(chosen)


def offered_on(stored: Iterable[str] | None) -> frozenset[str]:
    """The platforms a model is offered on, from its stored value."""
    return EVERY if stored is None else frozenset(stored)


def parse_platforms(text: str) -> list[str] | None:
    """ "cn", "intl,cn" or "all" (every platform, stored as None), checked."""
    if text.strip().lower() == "all":
        return None
    return stored_platforms(part.strip() for part in text.split(",") if part.strip())
