"""The scanner credits solidified USDT transfers to our addresses once, and nothing else."""

from __future__ import annotations

from shared.models import LedgerEntry
from shared.tron.models import TronDeposit
from shared.tron.state import load_state
from tests.tron.conftest import SENDER, Customer
from tests.tron.fake_node import FakeTronNode


def test_normal_deposit_is_credited_once_with_rate_snapshot(
    fake: FakeTronNode, alice: Customer, scanner
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 12_340_000)
    fake.solidify()
    report = scanner.run_once()
    assert report.error == "" and report.skipped == ""
    deposit = TronDeposit.get()
    assert (deposit.txid, deposit.log_index, deposit.status) == (txid, 0, "credited")
    assert deposit.amount_micro == 12_340_000
    assert deposit.credited_units == 12_340_000_000
    assert (deposit.rate, deposit.rate_source) == ("1", "config:peg")
    assert alice.balance == 12_340_000_000
    entry = LedgerEntry.get()
    assert (
        entry.ref == f"tron:mainnet:{txid}:0" and entry.kind == "deposit" and entry.amount == 12_340_000_000
    )
    assert load_state("mainnet").cursor == fake.solid
    assert "walletsolidity/gettransactioninfobyblocknum" in fake.paths()
