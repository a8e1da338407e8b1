"""`tollgate prices ...`: sync from a real feed server, dry runs, approvals, pins and the status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.models import CatalogModel
from tests.cli.conftest import Cli, snapshot
from tests.support.price_feeds import FakeFeeds
from tests.support.servers import ServerThread

FEED = {
    "data": [{"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}]
}


@pytest.fixture(scope="module")
def feed_server() -> Iterator[tuple[FakeFeeds, ServerThread]]:
    feeds = FakeFeeds()
    with ServerThread(feeds.app()) as server:
        yield feeds, server


@pytest.fixture
def feed(feed_server: tuple[FakeFeeds, ServerThread], cli: Cli) -> str:
    """The feed's URL, set as the one source, and a model routed to gpt-4o-mini."""
    fake, server = feed_server
    fake.failing.clear()
    fake.documents["/models"] = FEED
    cli.ok("provider", "add", "up", "--base-url", "http://127.0.0.1:9/v1")
    prices = ["--input-price", "0.14", "--output-price", "0.58"]
    cli.ok("model", "add", "mini", "--provider", "up", "--upstream-model", "gpt-4o-mini", *prices)
    cli.ok("prices", "sources", "set", f"openrouter={server.url}/models")
    return server.url


def prices_of(slug: str) -> dict[str, int]:
    return CatalogModel.get(CatalogModel.slug == slug).prices


def test_dry_run_shows_the_change_and_changes_nothing(cli: Cli, feed: str) -> None:
    cli.ok("prices", "markup", "set", "--percent", "10")
    before = snapshot()

    shown = cli.json("prices", "sync", "--dry-run")

    assert shown["dry_run"] is True
    assert [(c["model"], c["prices"]["input"], c["prices"]["output"]) for c in shown["applied"]] == [
        ("mini", 165_000_000, 660_000_000)
    ]
    assert snapshot() == before
    assert "would change: 1" in cli.ok("prices", "sync", "--dry-run")


def test_sync_applies_the_markup_and_the_status_shows_when(cli: Cli, feed: str) -> None:
    cli.ok("prices", "markup", "set", "--percent", "10", "--step", "0.004")

    text = cli.ok("prices", "sync")

    assert "changed: 1" in text and "mini" in text
    # 150_000_000 × 1.1 = 165_000_000, rounded up to $0.004 (4_000_000 nano-USD): 168_000_000,
    # exactly 20 % over 140_000_000, so not held (only a move past the threshold waits).
    assert prices_of("mini") == {"input": 168_000_000, "output": 660_000_000}
    status = cli.json("prices", "status")
    assert status["last_sync_at"] and status["sources"][0]["ok"] is True and status["pending"] == 0
    history = cli.json("prices", "history")
    assert history[0]["model"] == "mini" and history[0]["prices"]["input"] == 168_000_000


def test_a_held_change_is_listed_and_applied_on_approve(cli: Cli, feed: str) -> None:
    cli.ok("prices", "markup", "set", "--percent", "100")  # doubles the sale price: held

    held = cli.json("prices", "sync")["held"]

    assert [h["model"] for h in held] == ["mini"] and prices_of("mini")["input"] == 140_000_000
    pending = cli.json("prices", "pending")
    assert [p["id"] for p in pending] == [held[0]["change_id"]]
    cli.ok("prices", "approve", str(held[0]["change_id"]), "--by", "ops@example.com")
    assert prices_of("mini") == {"input": 300_000_000, "output": 1_200_000_000}
    assert cli.fails("prices", "approve", str(held[0]["change_id"])).endswith("is applied, not pending")


def test_a_pinned_model_is_not_repriced(cli: Cli, feed: str) -> None:
    cli.ok("prices", "pin", "mini")

    assert cli.json("prices", "sync")["applied"][0]["prices"] == {"input": 140_000_000, "output": 580_000_000}
    assert prices_of("mini") == {"input": 140_000_000, "output": 580_000_000}


def test_a_failing_source_is_shown_with_its_time(
    cli: Cli, feed: str, feed_server: tuple[FakeFeeds, ServerThread]
) -> None:
    cli.ok("prices", "sync")
    feed_server[0].failing.add("/models")

    cli.ok("prices", "sync")

    text = cli.ok("prices", "status")
    assert "FAILED at " in text and "HTTP 503" in text
    assert prices_of("mini") == {"input": 150_000_000, "output": 600_000_000}


def test_bad_sources_are_refused(cli: Cli) -> None:
    assert "needs an http(s) URL" in cli.fails("prices", "sources", "set", "openrouter")
    assert "is not one of" in cli.fails("prices", "sources", "set", "nowhere=http://x")


def test_provider_import_lists_previews_and_imports(
    cli: Cli, feed_server: tuple[FakeFeeds, ServerThread]
) -> None:
    fake, server = feed_server
    fake.documents["/or/v1/models"] = {
        "data": [
            {"id": "acme/fast", "pricing": {"prompt": "0.0000002", "completion": "0.0000008"}},
            {"id": "acme/x"},
        ]
    }
    cli.ok("provider", "add", "or", "--base-url", f"{server.url}/or/v1", "--api-key", "sk-or")
    before = snapshot()

    preview = cli.json("provider", "import", "or", "--all", "--dry-run")

    assert [(r["model"], r["state"]) for r in preview] == [
        ("or/acme/fast", "imported"),
        ("or/acme/x", "no price (imported disabled)"),
    ]
    assert snapshot() == before
    assert "imported: 1" in cli.ok("provider", "import", "or", "acme/fast")
    assert prices_of("or/acme/fast") == {"input": 200_000_000, "output": 800_000_000}
    assert "not in the provider's listing: nope" in cli.fails("provider", "import", "or", "nope")
    assert "give the upstream model ids" in cli.fails("provider", "import", "or")
    fake.failing.add("/or/v1/models")
    assert "cannot read its model listing" in cli.fails("provider", "import", "or", "--all")
    fake.failing.clear()
