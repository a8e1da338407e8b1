"""`tollgate utility ...`: the model each utility endpoint uses when a request names none."""

from __future__ import annotations

import pytest

from shared.config_version import read_config_version
from shared.utility_models import load_assigned
from tests.cli.conftest import Cli, snapshot

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def models(cli: Cli) -> None:
    cli.ok("provider", "add", "up", "--base-url", "http://127.0.0.1:9/v1")
    prices = ["--input-price", "1", "--output-price", "2"]
    cli.ok("model", "add", "acme/chat-1", "--provider", "up", *prices)
    cli.ok("model", "add", "acme/guard-1", "--provider", "up", "--modality", "moderation", *prices)


def test_set_list_and_unset(cli: Cli, models: None) -> None:
    before = read_config_version()

    assert cli.ok("utility", "set", "translations", "acme/chat-1") == "translations uses acme/chat-1\n"
    cli.ok("utility", "set", "moderations", "acme/guard-1")

    assert load_assigned() == {"translations": "acme/chat-1", "moderations": "acme/guard-1"}
    assert read_config_version() > before  # the data planes reload it
    assert cli.json("utility", "list") == [
        {"endpoint": "moderations", "model": "acme/guard-1"},
        {"endpoint": "translations", "model": "acme/chat-1"},
        {"endpoint": "classifications", "model": None},
        {"endpoint": "ocr", "model": None},
    ]
    assert cli.json("utility", "unset", "translations")["removed"] is True
    assert load_assigned() == {"moderations": "acme/guard-1"}
    assert "(it had none)" in cli.ok("utility", "unset", "translations")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["translations", "acme/missing"], "Error: model: no model acme/missing in the catalogue"),
        (["ocr", "acme/guard-1"], "Error: model: acme/guard-1 is a moderation model; ocr needs a chat model"),
        (
            ["moderations", "acme/chat-1"],
            "Error: model: acme/chat-1 is a chat model; moderations needs a moderation",
        ),
    ],
)
def test_a_model_that_does_not_fit_is_refused_and_nothing_changes(
    cli: Cli, models: None, args: list[str], expected: str
) -> None:
    before = snapshot()

    assert cli.fails("utility", "set", *args).startswith(expected)

    assert snapshot() == before


def test_an_unknown_endpoint_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("utility", "set", "detections", "acme/chat-1")

    assert result.exit_code == 2 and "detections" in result.stderr
