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
