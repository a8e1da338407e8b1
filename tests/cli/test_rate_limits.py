"""Rate limits from the CLI: `key create --rpm/--tpm`, `key limit` and `group set`."""

from __future__ import annotations

import pytest

from shared.config_version import read_config_version
from shared.models import ApiKey, Group
from tests.cli.conftest import Cli, snapshot


@pytest.fixture
def alice(cli: Cli) -> str:
    cli.ok("user", "create", "alice@example.com")
    return "alice@example.com"


def test_key_create_sets_limits_and_limit_changes_them(cli: Cli, alice: str) -> None:
    created = cli.json("key", "create", alice, "--rpm", "60", "--tpm", "90000")
    assert (created["rpm_limit"], created["tpm_limit"]) == (60, 90000)
    version = read_config_version()

    changed = cli.json("key", "limit", str(created["id"]), "--tpm", "none")

    assert (changed["rpm_limit"], changed["tpm_limit"]) == (60, None)  # --rpm not given: kept
    stored = ApiKey.get_by_id(created["id"])
    assert (stored.rpm_limit, stored.tpm_limit) == (60, None)
    assert read_config_version() > version  # the data planes reload within seconds
    assert "rpm 5, tpm unlimited" in cli.ok("key", "limit", str(created["id"]), "--rpm", "5")


def test_group_set_limits_each_member_and_list_shows_them(cli: Cli, alice: str) -> None:
    assert "rpm 30, tpm 10000" in cli.ok("group", "set", "default", "--rpm", "30", "--tpm", "10000")
    cli.ok("group", "set", "default", "--rpm", "none")

    listed = cli.json("group", "list")

    assert [(g["name"], g["members"], g["rpm_limit"], g["tpm_limit"]) for g in listed] == [
        ("default", 1, None, 10000)
    ]
    assert Group.get(Group.name == "default").multiplier_ppm == 1_000_000  # untouched


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("key", "create", "alice@example.com", "--rpm", "0"), "Error: rpm_limit: must be a whole number"),
        (("key", "create", "alice@example.com", "--tpm", "lots"), "Error: --tpm: must be a whole number"),
        (("key", "limit", "999", "--rpm", "5"), "Error: no key 999"),
        (("group", "set", "nobody", "--rpm", "5"), "Error: no group nobody"),
        (("group", "set", "default", "--tpm", "-1"), "Error: tpm_limit: must be a whole number"),
    ],
)
def test_bad_limits_are_refused_and_change_nothing(cli: Cli, alice: str, args: tuple, expected: str) -> None:
    cli.ok("group", "set", "default")
    before = snapshot()

    assert cli.fails(*args).startswith(expected)

    assert snapshot() == before
