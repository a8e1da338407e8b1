"""`tollgate model ...`: exact prices per 1M tokens, and several routes per model by priority."""

from __future__ import annotations

import pytest

from shared.models import CatalogModel, Route
from tests.cli.conftest import Cli, snapshot


@pytest.fixture
def providers(cli: Cli) -> None:
    cli.ok("provider", "add", "cheap", "--base-url", "http://127.0.0.1:9/v1")
    cli.ok("provider", "add", "fast", "--base-url", "http://127.0.0.1:10/v1")


def test_add_stores_exact_prices_and_lists_them(cli: Cli, providers: None) -> None:
    added = cli.json(
        "model",
        "add",
        "openai/gpt-4o-mini",
        "--provider",
        "cheap",
        "--upstream-model",
        "gpt-4o-mini",
        "--input-price",
        "0.15",
        "--output-price",
        "0.6",
        "--cached-input-price",
        "0.075",
        "--context-length",
        "128000",
    )
    assert added["id"] == "openai/gpt-4o-mini"
    assert (added["input_price_usd"], added["output_price_usd"], added["cached_input_price_usd"]) == (
        "0.150000000",
        "0.600000000",
        "0.075000000",
    )
    assert added["context_length"] == 128000 and added["modality"] == "chat"
    stored = CatalogModel.get(CatalogModel.slug == "openai/gpt-4o-mini")
    assert (stored.input_price, stored.output_price, stored.cached_input_price) == (
        150_000_000,
        600_000_000,
        75_000_000,
    )
    assert cli.json("model", "list") == [added]


def test_another_provider_adds_a_route_tried_by_priority(cli: Cli, providers: None) -> None:
    common = ["--input-price", "1", "--output-price", "2"]
    cli.ok("model", "add", "m", "--provider", "cheap", *common)
    cli.ok(
        "model",
        "add",
        "m",
        "--provider",
        "fast",
        "--upstream-model",
        "m-turbo",
        "--priority",
        "10",
        "--weight",
        "3",
        *common,
    )
    [listed] = cli.json("model", "list")
    assert [(r["provider"], r["upstream_model"], r["priority"], r["weight"]) for r in listed["routes"]] == [
        ("fast", "m-turbo", 10, 3),
        ("cheap", "m", 0, 1),
    ]
    assert Route.select().count() == 2 and CatalogModel.select().count() == 1
    text = cli.ok("model", "list")
    assert text.index("fast:m-turbo") < text.index("cheap:m")


def test_an_embedding_model(cli: Cli, providers: None) -> None:
    added = cli.json(
        "model",
        "add",
        "text-embedding-3-small",
        "--provider",
        "cheap",
        "--modality",
        "embedding",
        "--input-price",
        "0.02",
        "--output-price",
        "0",
    )
    assert added["modality"] == "embedding" and added["output_price_usd"] == "0.000000000"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["m2", "--provider", "cheap", "--input-price", "-1", "--output-price", "1"], "must not be negative"),
        (["m2", "--provider", "cheap", "--input-price", "1", "--output-price", "lots"], "--output-price"),
        (["m2", "--provider", "cheap", "--input-price", "0.0000000001", "--output-price", "1"], "9 decimals"),
        (["bad model id", "--provider", "cheap", "--input-price", "1", "--output-price", "1"], "model id"),
        (["m2", "--provider", "nowhere", "--input-price", "1", "--output-price", "1"], "no provider nowhere"),
        (
            ["m2", "--provider", "cheap", "--input-price", "1", "--output-price", "1", "--weight", "0"],
            "weight",
        ),
        (["m", "--provider", "cheap", "--input-price", "1", "--output-price", "-2"], "must not be negative"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    cli: Cli, providers: None, extra: list[str], expected: str
) -> None:
    cli.ok("model", "add", "m", "--provider", "cheap", "--input-price", "1", "--output-price", "2")
    before = snapshot()
    assert expected in cli.fails("model", "add", *extra)
    assert snapshot() == before


def _price(row: dict, meter: str) -> tuple[str, str, str]:
    [found] = [p for p in row["prices"] if p["meter"] == meter]
    return found["label"], found["usd"], found["per"]


def test_add_prices_every_meter_and_lists_them_with_units(cli: Cli, providers: None) -> None:
    added = cli.json(
        "model", "add", "acme/studio", "--provider", "cheap", "--modality", "image",
        "--price", "image:1024x1024:hd=0.08", "--price", "image=0.04", "--price", "audio_second=0.0001",
        "--price", "characters=0.015", "--price", "request=0.001", "--price", "cache_write=3.75",
        "--price", "reasoning=12", "--price", "input=2.5",
        "--cost", "image:1024x1024:hd=0.05",
        "--capability", "vision", "--capability", "tools,streaming",
    )  # fmt: skip

    assert [p["meter"] for p in added["prices"]] == [
        "input", "cache_write", "output", "reasoning", "image", "image:1024x1024:hd", "audio_second",
        "characters", "request",
    ]  # fmt: skip
    assert _price(added, "image:1024x1024:hd") == ("Images (1024x1024, hd)", "0.080000000", "image")
    assert _price(added, "audio_second") == ("Audio seconds", "0.000100000", "second")
    assert _price(added, "characters") == ("Characters", "0.015000000", "1k characters")
    assert _price(added, "request") == ("Requests", "0.001000000", "request")
    assert _price(added, "reasoning") == ("Reasoning tokens", "12.000000000", "1M tokens")
    assert _price(added, "output") == ("Output tokens", "0.000000000", "1M tokens")
    assert (added["modality"], added["capabilities"]) == ("image", ["tools", "vision", "streaming"])
    stored = CatalogModel.get(CatalogModel.slug == "acme/studio")
    assert stored.prices == {
        "input": 2_500_000_000, "output": 0, "image:1024x1024:hd": 80_000_000, "image": 40_000_000,
        "audio_second": 100_000, "characters": 15_000_000, "request": 1_000_000,
        "cache_write": 3_750_000_000, "reasoning": 12_000_000_000,
    }  # fmt: skip
    route = Route.get()
    # The meter given a cost costs that; every other meter costs what it sells for.
    assert route.costs["image:1024x1024:hd"] == 50_000_000 and route.costs["image"] == 40_000_000
    assert route.costs["input"] == 2_500_000_000
    assert cli.json("model", "list") == [added] and cli.json("model", "show", "acme/studio") == added
    text = cli.ok("model", "show", "acme/studio")
    assert "capabilities: tools, vision, streaming" in text
    assert "Images (1024x1024, hd)  0.080000000 USD / image" in text
    assert "0.000100000 USD / second" in text and "0.015000000 USD / 1k characters" in text


def test_old_price_flags_mix_with_meter_prices(cli: Cli, providers: None) -> None:
    added = cli.json(
        "model", "add", "acme/voice", "--provider", "cheap", "--modality", "speech",
        "--input-price", "1", "--output-price", "2", "--price", "characters=0.015",
    )  # fmt: skip

    assert (added["input_price_usd"], added["output_price_usd"], added["cached_input_price_usd"]) == (
        "1.000000000", "2.000000000", None,
    )  # fmt: skip
    assert [p["meter"] for p in added["prices"]] == ["input", "output", "characters"]
    assert added["routes"][0]["costs"] == added["prices"]  # no --cost: the provider's price is the sale price
    assert added["capabilities"] is None


@pytest.mark.parametrize(
    "modality", ["chat", "embedding", "image", "transcription", "speech", "moderation", "rerank"]
)
def test_every_modality_is_accepted(cli: Cli, providers: None, modality: str) -> None:
    added = cli.json("model", "add", f"m-{modality}", "--provider", "cheap", "--modality", modality,
                     "--price", "request=0.001")  # fmt: skip
    assert added["modality"] == modality


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--price", "imagez=0.08"], "--price: unknown meter 'imagez'"),
        (["--price", "image:huge=0.08"], "--price: 'huge' in 'image:huge'"),
        (["--price", "request:hd=0.08"], "--price: only image meters take qualifiers"),
        (["--cost", "seconds=1"], "--cost: unknown meter 'seconds'"),
        (["--price", "image"], "--price: expected METER=USD, got 'image'"),
        (["--price", "image=cheap"], "--price: image: not an amount in USD"),
        (["--price", "image=-1"], "--price: image: must not be negative"),
        (["--price", "image=0.0000000001"], "9 decimals"),
        (["--price", "image=1", "--price", "image=2"], "--price: image is priced twice"),
        (["--input-price", "1", "--price", "input=2"], "--input-price: also given as --price input="),
        (["--price", "image=1", "--capability", "telepathy"], "capabilities: unknown telepathy"),
        ([], "--input-price: required"),
    ],
)
def test_bad_meter_prices_are_refused_and_change_nothing(
    cli: Cli, providers: None, extra: list[str], expected: str
) -> None:
    before = snapshot()
    assert expected in cli.fails("model", "add", "m3", "--provider", "cheap", *extra)
    assert snapshot() == before


def test_show_an_unknown_model(cli: Cli) -> None:
    assert cli.fails("model", "show", "acme/missing") == "Error: no model acme/missing"
