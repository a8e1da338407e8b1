"""The operator's price-sync choices and the last sync's status, kept in the `kv` table as JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from shared.errors import InvalidInput
from shared.models import KeyValue
from shared.pricing.markup import Rule, Rules
from shared.pricing.sources import KINDS, SOURCE_KINDS, SourceSpec

SOURCES_KEY = "prices.sources"
MARKUP_KEY = "prices.markup"
THRESHOLD_KEY = "prices.threshold_pct"
STATUS_KEY = "prices.status"
DEFAULT_SOURCES = (SourceSpec("genai-prices"),)
DEFAULT_THRESHOLD_PCT = Decimal(20)
SCOPES = ("global", "provider", "model")


def _read(key: str) -> Any:
    row = KeyValue.get_or_none(KeyValue.key == key)
    return None if row is None else json.loads(row.value)


def _write(key: str, value: Any) -> None:
    text = json.dumps(value, sort_keys=True)
    KeyValue.insert(key=key, value=text).on_conflict(
        conflict_target=[KeyValue.key], update={KeyValue.value: text}
    ).execute()


def sources() -> list[SourceSpec]:
    """The sources in the operator's order (the shipped genai-prices data when none are set)."""
    stored = _read(SOURCES_KEY)
    if stored is None:
        return list(DEFAULT_SOURCES)
    return [SourceSpec(s["kind"], s.get("url", "")) for s in stored]


def configured() -> bool:
    """Whether the operator has chosen the sources (the worker syncs only then)."""
    return KeyValue.get_or_none(KeyValue.key == SOURCES_KEY) is not None


def parse_spec(text: str) -> SourceSpec:
    """A source as the operator types it: `genai-prices`, `openrouter=URL`, `litellm=URL`, `provider`."""
    kind, _, url = text.partition("=")
    return SourceSpec(kind.strip(), url.strip())


def set_sources(specs: list[SourceSpec]) -> None:
    """Replace the source list; a feed kind needs an http(s) URL (genai-prices may name a mirror)."""
    for spec in specs:
        if spec.kind not in SOURCE_KINDS:
            raise InvalidInput("source", f"{spec.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        if spec.kind in KINDS and not spec.url.startswith(("http://", "https://")):
            raise InvalidInput("source", f"{spec.kind} needs an http(s) URL, as {spec.kind}=URL")
        if spec.kind == "provider" and spec.url:
            raise InvalidInput("source", "provider takes no URL: it reads every provider's own listing")
        if spec.kind == "genai-prices" and spec.url and not spec.url.startswith(("http://", "https://")):
            raise InvalidInput("source", "genai-prices=URL needs an http(s) URL (or none)")
    _write(SOURCES_KEY, [{"kind": s.kind, "url": s.url} for s in specs])


def rules() -> Rules:
    """The markup rules (none: sale price = cost)."""
    return Rules.from_json(_read(MARKUP_KEY) or {})


def set_rules(value: Rules) -> None:
    _write(MARKUP_KEY, value.to_json())


def with_rule(current: Rules, scope: str, name: str, rule: Rule | None) -> Rules:
    """`current` with the rule of one scope set (or, for `rule` None, removed); the global one stays."""
    name = name.strip()
    if scope not in SCOPES:
        raise InvalidInput("scope", f"must be one of {', '.join(SCOPES)}")
    if scope == "global":
        return Rules(rule or Rule(), current.providers, current.models)
    if not name:
        raise InvalidInput("name", f"name the {scope} the rule is for")
    table = dict(current.providers if scope == "provider" else current.models)
    if rule is None:
        table.pop(name, None)
    else:
        table[name] = rule
    if scope == "provider":
        return Rules(current.default, table, current.models)
    return Rules(current.default, current.providers, table)


def set_rule(scope: str, name: str, rule: Rule | None) -> Rules:
    """Set (or remove) the global rule, a provider's or a model's; the rules as stored."""
    updated = with_rule(rules(), scope, name, rule)
    set_rules(updated)
    return updated


def threshold_pct() -> Decimal:
    """How far (percent) a sync may move a sale price before the operator must approve it."""
    stored = _read(THRESHOLD_KEY)
    return DEFAULT_THRESHOLD_PCT if stored is None else Decimal(stored)


def set_threshold_pct(value: Decimal) -> None:
    if value < 0:
        raise InvalidInput("threshold", "must not be negative")
    _write(THRESHOLD_KEY, str(value))


def status() -> dict[str, Any]:
    """The last sync: when, and each source's outcome ({name, ok, error, at, entries})."""
    return _read(STATUS_KEY) or {"last_sync_at": None, "sources": []}


def set_status(value: dict[str, Any]) -> None:
    _write(STATUS_KEY, value)
