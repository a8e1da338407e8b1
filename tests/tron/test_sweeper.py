"""The sweeper moves observed USDT to the treasury and judges success by receipt and log."""

from __future__ import annotations

import pytest
from tronpy.keys import to_hex_address

from shared.errors import InvalidInput
from shared.models import LedgerEntry
from shared.settings import Secret, Settings
from shared.tron import config
from shared.tron.addresses import derive
from shared.tron.models import TronSweep
from shared.tron.node import TronNode
from shared.tron.signing import Signer
from shared.tron.sweeper import Sweeper
from tests.tron.conftest import MNEMONIC, SENDER, STRANGER, XPUB, Customer
from tests.tron.fake_node import FakeTronNode

TREASURY = STRANGER
FEE_WALLET = derive(XPUB, 0, chain=1)


@pytest.fixture
def sweep_config(settings: Settings, tron: config.TronConfig, fake: FakeTronNode) -> config.TronConfig:
    fake.accounts[to_hex_address(FEE_WALLET)] = 1_000_000_000
    return config.update({"treasury": TREASURY, "sweep_threshold_micro": "10"}, settings.secret_key)


@pytest.fixture
def sweeper(sweep_config: config.TronConfig, fake: FakeTronNode) -> Sweeper:
    node = TronNode(fake.url, timeout_s=2)
    yield Sweeper(sweep_config, node, Signer(Secret(MNEMONIC)), polls=3, sleep=lambda s: None)
    node.close()


def test_sweep_tops_up_an_inactive_address_then_moves_the_observed_balance(
    fake: FakeTronNode, alice: Customer, bob: Customer, sweeper: Sweeper
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 25_000_000)
    fake.add_transfer(SENDER, bob.address.address, 9_000_000)  # below the threshold
    fake.solidify()
    balance_before = alice.balance
    outcomes = {o.address: o for o in sweeper.run()}
    assert outcomes[alice.address.address].status == "swept"
    assert outcomes[alice.address.address].amount == 25_000_000
    assert outcomes[bob.address.address].status == "skipped"
    assert fake.token_balance(alice.address.address) == 0 and fake.token_balance(TREASURY) == 25_000_000
    assert fake.token_balance(bob.address.address) == 9_000_000
    kinds = [(s.kind, s.status) for s in TronSweep.select().order_by(TronSweep.id)]
    assert kinds == [("trx_topup", "confirmed"), ("usdt", "confirmed")]
    usdt_sweep = TronSweep.get(TronSweep.kind == "usdt")
    broadcast = [r["body"] for r in fake.requests if r["path"] == "wallet/broadcasttransaction"]
    assert broadcast[-1]["raw_data"]["fee_limit"] == sweep_config_fee(sweeper)
    assert usdt_sweep.txid == broadcast[-1]["txID"]
    assert fake.txs[usdt_sweep.txid].info["contractResult"] == ["0" * 64]  # transfer() "returned false"
    assert alice.balance == balance_before and LedgerEntry.select().count() == 0


def sweep_config_fee(sweeper: Sweeper) -> int:
    return sweeper.config.fee_limit_sun


@pytest.mark.parametrize("code", ["CONTRACT_VALIDATE_ERROR", "BANDWITH_ERROR"])
def test_broadcast_errors_are_recorded_as_failed(
    fake: FakeTronNode, alice: Customer, sweeper: Sweeper, code: str
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 25_000_000)
    fake.accounts[alice.address.address_hex] = 100_000_000
    fake.solidify()
    fake.broadcast_error = code
    [outcome] = sweeper.run()
    assert outcome.status == "failed" and code in outcome.message
    assert TronSweep.get().status == "failed"
    assert fake.token_balance(alice.address.address) == 25_000_000


def test_a_sweep_in_flight_is_settled_not_sent_again(
    fake: FakeTronNode, alice: Customer, sweeper: Sweeper
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 25_000_000)
    fake.accounts[alice.address.address_hex] = 100_000_000
    fake.solidify()
    fake.auto_solidify = False
    [first] = sweeper.run()
    assert first.status == "unconfirmed" and TronSweep.get().status == "broadcast"
    fake.solidify()
    [second] = sweeper.run()  # settles the sweep in flight instead of sending another
    assert second.status == "skipped" and TronSweep.get().status == "confirmed"
    assert TronSweep.select().count() == 1 and fake.token_balance(TREASURY) == 25_000_000


def test_duplicate_transaction_error_counts_as_sent(
    fake: FakeTronNode, alice: Customer, sweeper: Sweeper
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 25_000_000)
    fake.accounts[alice.address.address_hex] = 100_000_000
    fake.solidify()
    fake.broadcast_error = "DUP_TRANSACTION_ERROR"
    [outcome] = sweeper.run()
    assert outcome.status == "swept" and TronSweep.get().status == "confirmed"
    assert fake.token_balance(TREASURY) == 25_000_000


def test_a_reverted_sweep_is_failed_not_swept(fake: FakeTronNode, alice: Customer, sweeper: Sweeper) -> None:
    fake.add_transfer(SENDER, alice.address.address, 25_000_000)
    fake.accounts[alice.address.address_hex] = 100_000_000
    fake.solidify()
    fake.revert_next_call = True
    [outcome] = sweeper.run()
    assert outcome.status == "failed" and "REVERT" in outcome.message
    assert TronSweep.get().status == "failed"
    assert fake.token_balance(alice.address.address) == 25_000_000


def test_the_wrong_mnemonic_is_refused(sweep_config: config.TronConfig, fake: FakeTronNode) -> None:
    other = "legal winner thank year wave sausage worth useful legal winner thank yellow"
    node = TronNode(fake.url, timeout_s=2)
    with pytest.raises(InvalidInput, match="does not belong"):
        Sweeper(sweep_config, node, Signer(Secret(other)))
    with pytest.raises(InvalidInput, match="mnemonic"):
        Signer(Secret("not a mnemonic at all"))
    node.close()
