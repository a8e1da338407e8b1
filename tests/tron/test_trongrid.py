"""TronGrid mode: hot addresses' v1 history, all pages, every candidate verified on solid data."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from shared.tron import config
from shared.tron.claims import mark_hot
from shared.tron.models import TronAddress, TronDeposit
from shared.tron.scanner import Scanner
from tests.tron.conftest import SENDER, Clock, Customer
from tests.tron.fake_node import GENESIS_TS, FakeTronNode


@pytest.fixture
def trongrid(settings: Settings, tron: config.TronConfig, fake: FakeTronNode) -> config.TronConfig:
    fake.page_size = 2
    return config.update({"discovery": "trongrid", "node_url": fake.url + "trongrid/"}, settings.secret_key)


def test_pages_are_followed_and_the_cursor_moves_after_the_last(
    fake: FakeTronNode, trongrid: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    mark_hot(alice.address, clock.now)
    txids = [fake.add_transfer(SENDER, alice.address.address, 10_000_000 + i) for i in range(4)]
    fake.solidify()
    assert scanner.run_once().error == ""
    assert sorted(d.txid for d in TronDeposit.select()) == sorted(txids)
    assert alice.balance == sum(10_000_000_000 + i * 1000 for i in range(4))
    pages = [r for r in fake.requests if r["path"].startswith("v1/")]
    assert [("fingerprint" in r["query"]) for r in pages] == [False, True, True]
    assert {r["query"]["contract_address"] for r in pages} == {trongrid.usdt_contract}
    assert all(r["headers"].get("tron-pro-api-key") == "test-api-key" for r in fake.requests)
    last_block = fake.txs[txids[-1]].block
    assert TronAddress.get_by_id(alice.address.id).last_seen_ts == GENESIS_TS + last_block * 3000


def test_a_failed_page_keeps_the_cursor(
    fake: FakeTronNode, trongrid: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    mark_hot(alice.address, clock.now)
    for i in range(4):
        fake.add_transfer(SENDER, alice.address.address, 10_000_000 + i)
    fake.solidify()
    fake.fail(path="v1/", status=429, body='{"success": false, "statusCode": 429}', skip=1, times=1)
    report = scanner.run_once()
    assert "429" in report.error
    assert TronAddress.get_by_id(alice.address.id).last_seen_ts is None and alice.balance == 0
    clock.advance(3600)
    assert scanner.run_once().error == ""
    assert alice.balance == sum(10_000_000_000 + i * 1000 for i in range(4))
    assert TronAddress.get_by_id(alice.address.id).last_seen_ts is not None


def test_v1_items_of_other_tokens_named_usdt_are_ignored(
    fake: FakeTronNode, trongrid: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    mark_hot(alice.address, clock.now)
    forged = fake.add_transfer(
        SENDER, alice.address.address, 50_000_000, contract="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    )
    fake.add_v1_item(
        alice.address.address,
        {
            "transaction_id": "e" * 64,
            "token_info": {"symbol": "USDT", "address": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", "decimals": 6},
            "block_timestamp": GENESIS_TS + 3000,
            "from": SENDER,
            "to": alice.address.address,
            "type": "Transfer",
            "value": "50000000",
        },
    )
    fake.solidify()
    assert scanner.run_once().error == ""
    assert TronDeposit.select().count() == 0 and alice.balance == 0
    verified = [r["body"].get("value") for r in fake.requests if "gettransactioninfobyid" in r["path"]]
    assert forged not in verified and "e" * 64 not in verified


def test_a_candidate_without_solid_info_holds_the_address_cursor_until_credited(
    fake: FakeTronNode, trongrid: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    mark_hot(alice.address, clock.now)
    early = fake.add_transfer(SENDER, alice.address.address, 11_000_000)
    fake.mine(400)  # 20 minutes of blocks: further back than the 10 minutes a later read overlaps
    late = fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    fake.fail(path="walletsolidity/gettransactioninfobyid", body="{}", times=1)  # lagging, for `early`
    assert scanner.run_once().error == ""
    assert [d.txid for d in TronDeposit.select()] == [late] and alice.balance == 12_000_000_000
    assert TronAddress.get_by_id(alice.address.id).last_seen_ts is None  # `early` is still to be read
    clock.advance(30)
    assert scanner.run_once().error == ""
    assert sorted(d.txid for d in TronDeposit.select()) == sorted([early, late])
    assert alice.balance == 23_000_000_000
    assert TronAddress.get_by_id(alice.address.id).last_seen_ts == GENESIS_TS + fake.txs[late].block * 3000
