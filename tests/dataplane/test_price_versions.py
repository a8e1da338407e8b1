"""A request is billed at the price in force when it was admitted, even if a price sync lands
while the upstream is still answering; a request admitted after the change pays the new price."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.money import format_usd
from shared.pricing import settings as price_settings
from shared.pricing import sync as price_sync
from shared.pricing.sources import SourceSpec
from tests.dataplane.helpers import CHAT_MODEL, Customer, eventually, usage_for
from tests.support.price_feeds import FakeFeeds
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

NEW_INPUT, NEW_OUTPUT = 1_100_000_000, 2_200_000_000  # +10 % over the shop's 1 / 2 USD per 1M


@pytest.fixture(scope="module")
def feeds() -> Iterator[tuple[FakeFeeds, ServerThread]]:
    fake = FakeFeeds()
    fake.documents["/cost-map.json"] = {
        "up-chat": {"input_cost_per_token": "0.0000011", "output_cost_per_token": "0.0000022"}
    }
    with ServerThread(fake.app()) as server:
        yield fake, server


def shows(value: Any, text: str) -> bool:
    if isinstance(value, dict):
        return any(shows(v, text) for v in value.values())
    if isinstance(value, list):
        return any(shows(v, text) for v in value)
    return value == text


def test_a_price_change_mid_request_bills_the_admitted_price(
    gateway: ServerThread, alice: Customer, upstream: FakeUpstream, feeds: tuple[FakeFeeds, ServerThread]
) -> None:
    upstream.script(Reply(usage=(1000, 500), latency_s=60))  # held until released
    upstream.default = Reply(usage=(1000, 500))
    client = alice.client(gateway.url)

    def ask() -> None:
        client.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}])

    first = threading.Thread(target=ask)
    first.start()
    eventually(lambda: len(upstream.requests) == 1, what="the first request upstream")

    price_settings.set_sources([SourceSpec("litellm", feeds[1].url + "/cost-map.json")])
    assert [c.slug for c in price_sync.sync().applied] == [CHAT_MODEL]
    eventually(
        lambda: shows(httpx.get(gateway.url + "/api/v1/models").json(), format_usd(NEW_INPUT)),
        what="the data plane to load the new prices",
    )
    ask()  # admitted after the change
    upstream.release()
    first.join(30)

    records = {r.request_id: r for r in usage_for(2)}.values()
    by_price = sorted((r.input_price, r.charge) for r in records)
    # Old: 1000 × 1 USD/1M + 500 × 2 USD/1M = 0.002 USD; new: 1000 × 1.1 + 500 × 2.2 per 1M.
    assert by_price == [(1_000_000_000, 2_000_000), (NEW_INPUT, 1_100_000 + 1_100_000)]
