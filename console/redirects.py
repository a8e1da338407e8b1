"""Where the console may send a browser after sign-in: same-site paths only (no open redirect).

Browsers drop tabs and newlines from URLs and treat a backslash as a slash, so "/\\t/evil.example"
becomes "//evil.example", another site. A target is therefore refused when it, or what repeated
percent-decoding makes of it, holds any whitespace, control character or backslash, does not
start with exactly one slash, or has a scheme or host that urllib can see.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

MAX_DECODINGS = 3
MAX_LENGTH = 2000


def _decodings(target: str) -> Iterator[str]:
    """`target`, then each distinct result of percent-decoding it again."""
    yield target
    for _ in range(MAX_DECODINGS):
        decoded = unquote(target)
        if decoded == target:
            return
        target = decoded
        yield target


def _has_risky_character(text: str) -> bool:
    return any(c == "\\" or c.isspace() or unicodedata.category(c).startswith("C") for c in text)


def _is_plain_path(text: str) -> bool:
    if _has_risky_character(text) or not text.startswith("/") or text.startswith("//"):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def is_same_site_path(target: str) -> bool:
    """True when following `target` cannot leave this site."""
    return len(target) <= MAX_LENGTH and all(_is_plain_path(text) for text in _decodings(target))


def safe_next(target: str | None, fallback: str) -> str:
    """`target` if it is a same-site path, else `fallback`."""
    return target if target and is_same_site_path(target) else fallback
