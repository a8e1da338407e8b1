"""Price sources: each reads its data into {entry id: {meter: nano-USD per price unit}} tables.

Amounts arrive as decimal strings (or JSON numbers, read as `Decimal`) in USD per token, per
million tokens, per image, ...; they become integer nano-USD per our price units exactly, rounded
up only where a source's price has more precision than a nano-USD (never floats).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

import httpx
from genai_prices import data_snapshot
from genai_prices.types import TieredPrices
from genai_prices.update_prices import DEFAULT_UPDATE_URL, UpdatePrices

Meters = dict[str, int]
NANO = Decimal(10) ** 9
FETCH_TIMEOUT_S = 20.0
MAX_FEED_BYTES = 64 * 1024 * 1024


class SourceError(Exception):
    """A source that could not be read (unreachable, bad status, not the expected format)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused it, when one did


def nano(usd: Any, scale: int) -> int | None:
    """USD (a decimal string or Decimal) × `scale` as nano-USD, rounded up; None for bad or negative."""
    if usd is None or isinstance(usd, bool):
        return None
    try:
        value = Decimal(str(usd)) if not isinstance(usd, Decimal) else usd
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return int((value * scale * NANO).to_integral_value(rounding=ROUND_CEILING))


def convert(entry: Mapping[str, Any], fields: Mapping[str, tuple[str, int]]) -> Meters:
    """An entry's priced fields as a meter map: `fields` maps a source field to (meter, scale)."""
    meters: Meters = {}
    for name, (meter, scale) in fields.items():
        price = nano(entry.get(name), scale)
        if price is not None and meter not in meters:
            meters[meter] = price
    return meters


@dataclass
class PriceTable:
    """One source's entries, found by id (case-insensitive) or by the model name after a prefix."""

    source: str
    entries: dict[str, Meters]
    # The source's own matcher (name, provider hint) -> entry id, tried after the id lookups.
    matcher: Callable[[str, str | None], str | None] | None = None
    note: str = ""  # what the source status should say beside "ok" (e.g. a refresh that failed)
    provider: str | None = None  # prices only the routes via this provider (its own listing)
    blocked: bool = False  # that provider's listing failed: its routes take no lower-ranked price
    _by_id: dict[str, str] = field(default_factory=dict, init=False)
    _by_tail: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for entry_id in self.entries:
            self._by_id.setdefault(entry_id.lower(), entry_id)
            self._by_tail.setdefault(entry_id.rsplit("/", 1)[-1].lower(), entry_id)

    def find(self, name: str, provider_hint: str | None) -> str | None:
        """The id of the entry for `name`: exact, then under the provider's prefix, then any prefix."""
        key = name.lower()
        for candidate in (key, f"{provider_hint}/{key}" if provider_hint else None):
            if candidate and candidate in self._by_id:
                return self._by_id[candidate]
        found = None if "/" in key else self._by_tail.get(key)
        return found or (self.matcher(name, provider_hint) if self.matcher else None)


# genai-prices price keys: (our meter, nano-USD scale of one USD amount of that key).
GENAI_FIELDS: dict[str, tuple[str, int]] = {
    "input_mtok": ("input", 1),
    "cache_read_mtok": ("cached_input", 1),
    "cache_write_mtok": ("cache_write", 1),
    "output_mtok": ("output", 1),
    "input_audio_mtok": ("audio_input", 1),
    "output_audio_mtok": ("audio_output", 1),
    "requests_kcount": ("request", 1),  # per 1k requests; divided below
}
# OpenRouter `/models` pricing: USD per token (tokens ×1M for our per-1M prices), per image, per request.
OPENROUTER_FIELDS: dict[str, tuple[str, int]] = {
    "prompt": ("input", 1_000_000),
    "completion": ("output", 1_000_000),
    "input_cache_read": ("cached_input", 1_000_000),
    "input_cache_write": ("cache_write", 1_000_000),
    "internal_reasoning": ("reasoning", 1_000_000),
    "image": ("image", 1),
    "request": ("request", 1),
}
# LiteLLM-style cost map: USD per token, per image, per second, per character.
COST_MAP_FIELDS: dict[str, tuple[str, int]] = {
    "input_cost_per_token": ("input", 1_000_000),
    "output_cost_per_token": ("output", 1_000_000),
    "cache_read_input_token_cost": ("cached_input", 1_000_000),
    "cache_creation_input_token_cost": ("cache_write", 1_000_000),
    "output_cost_per_reasoning_token": ("reasoning", 1_000_000),
    "input_cost_per_audio_token": ("audio_input", 1_000_000),
    "output_cost_per_audio_token": ("audio_output", 1_000_000),
    "output_cost_per_image": ("image", 1),
    "input_cost_per_second": ("audio_second", 1),
    "input_cost_per_character": ("characters", 1_000),
    "input_cost_per_request": ("request", 1),
}


def _genai_price_values(prices: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in GENAI_FIELDS:
        value = getattr(prices, key, None)
        values[key] = value.base if isinstance(value, TieredPrices) else value
    return values


def genai_prices_table(
    snapshot: data_snapshot.DataSnapshot | None = None, now: dt.datetime | None = None, note: str = ""
) -> PriceTable:
    """genai-prices data (the installed snapshot by default) as `provider/model` entries, today's prices."""
    data = snapshot or data_snapshot.get_snapshot()
    when = now or dt.datetime.now(dt.UTC)
    entries: dict[str, Meters] = {}
    for provider in data.providers:
        for model in provider.models:
            meters = convert(_genai_price_values(model.get_prices(when)), GENAI_FIELDS)
            if "request" in meters:
                meters["request"] = -(-meters["request"] // 1000)
            if meters:
                entries[f"{provider.id}/{model.id}"] = meters
    return PriceTable("genai-prices", entries, _GenaiMatcher(data), note=note)


@dataclass(frozen=True)
class _GenaiMatcher:
    """genai-prices' own matching (dated and aliased names) in one snapshot, within the hinted provider."""

    snapshot: data_snapshot.DataSnapshot

    def __call__(self, name: str, provider_hint: str | None) -> str | None:
        try:
            provider, model = self.snapshot.find_provider_model(name, None, provider_hint, None)
        except LookupError:
            return None
        return f"{provider.id}/{model.id}"


def refreshed_genai_prices(url: str = "") -> PriceTable:
    """genai-prices' published data from `url` (its default when empty), else the installed data.

    The refresh goes through the package's own fetcher (which parses and checks the document) but
    not its background updater, so nothing in the process changes beside this table. A refresh that
    fails is not a source failure: the installed data prices as before and the table's note says so.
    """
    fetcher = UpdatePrices(url=url or DEFAULT_UPDATE_URL)
    try:
        snapshot = fetcher.fetch()
    # The fetcher raises its HTTP client's errors, ValueError or the data's validation errors.
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return genai_prices_table(note=f"refresh failed ({reason}); using the installed data")
    if snapshot is None:
        return genai_prices_table(note="refresh returned nothing; using the installed data")
    return genai_prices_table(snapshot, note="refreshed from the published data")


def fetch_json(url: str, client: httpx.Client | None = None, headers: Mapping[str, str] | None = None) -> Any:
    """GET `url` and parse its JSON with decimals kept exact; SourceError when that fails."""
    try:
        if client is None:
            with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as own:
                response = own.get(url, headers=headers)
        else:
            response = client.get(url, headers=headers)
        response.raise_for_status()
        if len(response.content) > MAX_FEED_BYTES:
            raise SourceError(f"{url}: larger than {MAX_FEED_BYTES} bytes")
        return json.loads(response.content, parse_float=Decimal)
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        raise SourceError(f"{url}: HTTP {status}", status) from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: {type(exc).__name__} {exc}".strip()) from exc
    except ValueError as exc:
        raise SourceError(f"{url}: not JSON ({exc})") from exc


def openrouter_table(document: Any) -> PriceTable:
    """A catalogue feed in OpenRouter's `/models` format: `data[].id` with `pricing`."""
    rows = document.get("data") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise SourceError("catalogue feed: no `data` list")
    entries = {
        str(row["id"]): meters
        for row in rows
        if isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("pricing"), dict)
        if (meters := convert(row["pricing"], OPENROUTER_FIELDS))
    }
    return PriceTable("openrouter", entries)


def cost_map_table(document: Any) -> PriceTable:
    """A LiteLLM-style cost map: {model: {input_cost_per_token, output_cost_per_token, ...}}."""
    if not isinstance(document, dict):
        raise SourceError("cost map: not a JSON object")
    entries = {
        name: meters
        for name, row in document.items()
        if isinstance(row, dict) and name != "sample_spec"
        if (meters := convert(row, COST_MAP_FIELDS))
    }
    return PriceTable("litellm", entries)


@dataclass(frozen=True)
class SourceSpec:
    """One configured source: its kind (`genai-prices`, `openrouter`, `litellm`, `provider`) and URL.

    `provider` is set only on the specs a `provider` source expands into, one per provider.
    """

    kind: str
    url: str = ""
    provider: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.kind, self.provider or self.url) if part)


KINDS: dict[str, Callable[[Any], PriceTable]] = {"openrouter": openrouter_table, "litellm": cost_map_table}
# `provider`: each provider's own `/models` listing, where it carries prices (shared/pricing/listing.py).
SOURCE_KINDS = ("genai-prices", *KINDS, "provider")


def load(spec: SourceSpec, client: httpx.Client | None = None) -> PriceTable:
    """Read one source into a table (SourceError when it cannot be read)."""
    if spec.kind == "genai-prices":
        return refreshed_genai_prices(spec.url)
    if spec.kind not in KINDS:
        raise SourceError(f"unknown source kind {spec.kind!r}")
    table = KINDS[spec.kind](fetch_json(spec.url, client))
    return PriceTable(spec.name, table.entries)


def load_all(specs: Iterable[SourceSpec]) -> list[tuple[SourceSpec, PriceTable | SourceError]]:
    """Every source in order, each a table or the error that kept it from being read."""
    results: list[tuple[SourceSpec, PriceTable | SourceError]] = []
    with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as client:
        for spec in specs:
            try:
                results.append((spec, load(spec, client)))
            except SourceError as exc:
                results.append((spec, exc))
    return results
