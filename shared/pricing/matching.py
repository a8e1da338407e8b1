"""Which price-source entry prices a route: exact id first, then the names the model is known by."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from shared.pricing.sources import Meters, PriceTable

# Our provider kinds as the price sources name the provider (the prefix of their entry ids).
PROVIDER_HINTS = {"openai": "openai", "openai-chat": "openai", "anthropic": "anthropic", "gemini": "google"}
DATE_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")


def aliases(upstream_model: str) -> Iterator[str]:
    """`upstream_model` and the names it is also known by, most specific first, each once."""
    seen: set[str] = set()
    name = upstream_model.strip()
    bare = name.removeprefix("models/")
    tail = bare.rsplit("/", 1)[-1]
    for candidate in (name, bare, tail, DATE_SUFFIX.sub("", bare), DATE_SUFFIX.sub("", tail)):
        if candidate and candidate not in seen:
            seen.add(candidate)
            yield candidate


@dataclass(frozen=True)
class Match:
    """The entry that prices a route, and the source it came from."""

    source: str
    entry: str
    costs: Meters


def match(
    tables: Sequence[PriceTable],
    upstream_model: str,
    provider_kind: str,
    pinned: str | None = None,
    provider_name: str = "",
) -> Match | None:
    """The first source (in the operator's order) with an entry for the route, or None.

    A pinned entry id is looked up as is and only as is: the operator chose it. A provider's own
    listing prices only routes via that provider; when it failed, those routes take no price from
    a source ranked after it.
    """
    hint = PROVIDER_HINTS.get(provider_kind)
    for table in tables:
        if table.provider is not None and table.provider != provider_name:
            continue
        if table.blocked:
            return None
        if pinned:
            entry = pinned if pinned in table.entries else None
        else:
            entry = next((e for name in aliases(upstream_model) if (e := table.find(name, hint))), None)
        if entry is not None:
            return Match(table.source, entry, table.entries[entry])
    return None
