"""`tollgate model platforms` and `tollgate key create --platform`: regional catalogues from the shell."""

from __future__ import annotations

import pytest

from shared.models import ApiKey, CatalogModel
from tests.cli.conftest import Cli, snapshot


@pytest.fixture
def models(cli: Cli) -> None:
    cli.ok("user", "create", "alice@example.com")
    cli.ok("provider", "add", "up", "--base-url", "http://127.0.0.1:9/v1")
    for slug in ("m-world", "m-cn"):
        cli.ok("model", "add", slug, "--provider", "up", "--input-price", "1", "--output-price", "2")


def test_a_model_is_limited_to_a_platform_and_offered_everywhere_again(cli: Cli, models: None) -> None:
    assert cli.json("model", "show", "m-world")["platforms"] == ["intl", "cn"]

    limited = cli.json("model", "platforms", "m-cn", "cn")

    assert limited["platforms"] == ["cn"]
    assert CatalogModel.get(CatalogModel.slug == "m-cn").platforms == ["cn"]
    assert "platforms: cn" in cli.ok("model", "show", "m-cn")
    assert cli.json("model", "platforms", "m-cn", "all")["platforms"] == ["intl", "cn"]
    assert CatalogModel.get(CatalogModel.slug == "m-cn").platforms is None


@pytest.mark.parametrize(
    ("value", "message"), [("mars", "must be one of intl, cn"), (",", "choose at least one of intl, cn")]
)
def test_bad_platforms_are_refused_and_change_nothing(
    cli: Cli, models: None, value: str, message: str
) -> None:
    before = snapshot()

    error = cli.fails("model", "platforms", "m-cn", value)

    assert error.startswith("Error: platforms: ") and message in error
    assert snapshot() == before


def test_a_key_is_created_on_a_platform_and_listed_with_it(cli: Cli, models: None) -> None:
    cli.ok("model", "platforms", "m-cn", "cn")

    created = cli.json("key", "create", "alice@example.com", "--platform", "cn", "--models", "m-cn")
    default = cli.json("key", "create", "alice@example.com")

    assert (created["platform"], default["platform"]) == ("cn", "intl")
    assert ApiKey.get_by_id(created["id"]).platform == "cn"
    assert [k["platform"] for k in cli.json("key", "list")] == ["cn", "intl"]
    error = cli.fails("key", "create", "alice@example.com", "--models", "m-cn")
    assert error == "Error: --models: m-cn is not offered on the intl platform"
    assert (
        "Invalid value for '--platform'"
        in cli.run("key", "create", "alice@example.com", "--platform", "eu").output
    )
