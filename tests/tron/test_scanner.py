"""The scanner credits solidified USDT transfers to our addresses once, and nothing else."""

from __future__ import annotations

import pytest

from shared.db import write_transaction
from shared.models import LedgerEntry, User
from shared.outbox import OutgoingMail
from shared.settings import Settings
from shared.tron import config
from shared.tron.claims import mark_hot
from shared.tron.crediting import record
from shared.tron.models import TronDeposit, TronPending
from shared.tron.scanner import Scanner, known_addresses
from shared.tron.state import load_state, save_state
from shared.tron.verification import Finding
from tests.tron.conftest import SENDER, STRANGER, Clock, Customer
from tests.tron.fake_node import USDT, USDT_HEX, FakeTronNode, transfer_log

OTHER_TOKEN = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


def deposits() -> list[tuple[str, int, str, int]]:
    return [
        (d.txid, d.log_index, d.status, d.amount_micro)
        for d in TronDeposit.select().order_by(TronDeposit.txid, TronDeposit.log_index)
    ]


def test_normal_deposit_is_credited_once_with_rate_snapshot(
    fake: FakeTronNode, alice: Customer, scanner: Scanner
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
    assert "1" in entry.reason and "12.34 USDT" in entry.reason
    assert load_state("mainnet").cursor == fake.solid
    assert "walletsolidity/gettransactioninfobyblocknum" in fake.paths()
    notice = OutgoingMail.get()  # queued with the credit, for the worker to mail
    assert notice.kind == "deposit_credited" and "$12.34" in notice.subject


def test_below_minimum_is_recorded_not_credited_and_exact_minimum_is_credited(
    fake: FakeTronNode, alice: Customer, scanner: Scanner
) -> None:
    small = fake.add_transfer(SENDER, alice.address.address, 4_999_999)
    exact = fake.add_transfer(SENDER, alice.address.address, 5_000_000)
    fake.solidify()
    scanner.run_once()
    rows = {d.txid: d for d in TronDeposit.select()}
    assert rows[small].status == "below_minimum" and rows[small].credited_units is None
    assert "minimum" in rows[small].reason
    assert rows[exact].status == "credited"
    assert alice.balance == 5_000_000_000
    assert LedgerEntry.select().count() == 1


def test_wrong_tokens_and_plain_trx_are_never_credited(
    fake: FakeTronNode, alice: Customer, scanner: Scanner
) -> None:
    fake_usdt = fake.add_transfer(SENDER, alice.address.address, 50_000_000, contract=OTHER_TOKEN)
    trc10 = {"id": "c" * 64, "log": None, "receipt": {"net_usage": 283}, "contract_address": None}
    fake.add_info(**trc10)  # a TRC-10 "USDT" or TRX transfer: no Transfer log at all
    fake.solidify()
    scanner.run_once()
    assert deposits() == [(fake_usdt, 0, "rejected", 50_000_000)]
    assert "not the configured USDT contract" in TronDeposit.get().reason
    assert alice.balance == 0 and LedgerEntry.select().count() == 0


@pytest.mark.parametrize(
    "outcome",
    [
        {"result": "FAILED", "resMessage": "52455645525420", "receipt": {"result": "REVERT"}},
        {"result": "FAILED", "receipt": {"energy_fee": 30_000_000, "result": "OUT_OF_ENERGY"}},
        {"receipt": {"result": "OUT_OF_TIME"}},
    ],
)
def test_failed_transactions_are_not_credited_even_if_the_node_shows_logs(
    fake: FakeTronNode, alice: Customer, scanner: Scanner, outcome: dict
) -> None:
    fake.add_info(logs=None, **outcome)  # a real failure: no logs
    lying = fake.add_transfer(SENDER, alice.address.address, 20_000_000, **outcome)  # a node that lies
    fake.solidify()
    scanner.run_once()
    assert [(t, s) for t, _, s, _ in deposits()] == [(lying, "rejected")]
    assert alice.balance == 0


def test_several_logs_in_one_transaction_each_count(
    fake: FakeTronNode, alice: Customer, bob: Customer, scanner: Scanner
) -> None:
    logs = [
        transfer_log(SENDER, alice.address.address, 6_000_000),
        transfer_log(SENDER, STRANGER, 7_000_000),
        transfer_log(SENDER, alice.address.address, 8_000_000),
        transfer_log(SENDER, bob.address.address, 9_000_000, contract=OTHER_TOKEN),
        {
            "address": USDT,
            "topics": ["8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"],
            "data": "00",
        },
    ]
    txid = fake.add_info(logs=logs)
    fake.solidify()
    scanner.run_once()
    assert deposits() == [
        (txid, 0, "credited", 6_000_000),
        (txid, 2, "credited", 8_000_000),
        (txid, 3, "rejected", 9_000_000),
    ]
    assert alice.balance == 14_000_000_000 and bob.balance == 0


def test_transfer_made_by_another_contract_is_credited(
    fake: FakeTronNode, alice: Customer, scanner: Scanner
) -> None:
    router = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    fake.add_transfer(SENDER, alice.address.address, 10_000_000, contract_address=router)
    fake.solidify()
    scanner.run_once()
    assert alice.balance == 10_000_000_000


def test_unconfirmed_then_confirmed_is_credited_once(
    fake: FakeTronNode, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    solid = fake.solid
    fake.mine(4)
    txid = fake.add_transfer(SENDER, alice.address.address, 15_000_000)  # block solid + 5
    mark_hot(alice.address, clock.now)
    scanner.run_once()
    assert TronDeposit.select().count() == 0 and alice.balance == 0
    assert load_state("mainnet").cursor == solid
    pending = TronPending.get()
    assert (pending.txid, pending.amount_micro, pending.block_number) == (txid, 15_000_000, solid + 5)
    fake.solidify()
    clock.advance(30)
    scanner.run_once()
    clock.advance(30)
    scanner.run_once()
    assert deposits() == [(txid, 0, "credited", 15_000_000)]
    assert alice.balance == 15_000_000_000
    assert TronPending.select().count() == 0


def test_reorg_before_solidification_uses_only_the_final_data(
    fake: FakeTronNode, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    mark_hot(alice.address, clock.now)
    first = fake.add_transfer(SENDER, alice.address.address, 30_000_000)
    scanner.run_once()
    assert [p.txid for p in TronPending.select()] == [first]
    fake.reorg(fake.solid + 1)
    moved = fake.add_transfer(SENDER, alice.address.address, 25_000_000, block=fake.head + 2)
    clock.advance(30)
    scanner.run_once()
    assert [(p.txid, p.amount_micro) for p in TronPending.select()] == [(moved, 25_000_000)]
    fake.solidify()
    clock.advance(30)
    scanner.run_once()
    assert deposits() == [(moved, 0, "credited", 25_000_000)]
    assert alice.balance == 25_000_000_000


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "body": "oops"},
        {"status": 503, "body": "<html>busy</html>"},
        {"status": 429, "body": '{"Error": "Too many requests"}'},
        {"status": 403, "body": '{"Error": "The key exceeds the frequency limit(30)"}'},
        {"body": '{"Error": "class java.lang.IllegalAccessException : lack of computing resources"}'},
        {"body": "<html><body>502 Bad Gateway</body></html>"},
        {"body": '[{"id": "aa'},
        {"delay_s": 1.0, "body": "{}"},
        {"drop": True},
    ],
)
def test_node_faults_end_the_run_cleanly_and_keep_the_cursor(
    settings: Settings, fake: FakeTronNode, alice: Customer, clock: Clock, fault: dict
) -> None:
    scanner = Scanner(settings.__class__(**{**settings.__dict__, "tron_node_timeout_s": 0.3}), clock=clock)
    scanner.run_once()
    cursor = load_state("mainnet").cursor
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    fake.fail(path="gettransactioninfobyblocknum", **fault)
    report = scanner.run_once()
    state = load_state("mainnet")
    assert report.error and state.cursor == cursor and state.node_ok is False
    assert state.failures == 1 and state.backoff_until > clock.now.isoformat()
    assert alice.balance == 0
    assert scanner.run_once().skipped.startswith("backing off")
    fake.heal()
    clock.advance(3600)
    assert scanner.run_once().error == ""
    assert alice.balance == 12_000_000_000 and load_state("mainnet").node_ok is True


def test_node_down_is_an_error_not_a_crash(
    settings: Settings, fake: FakeTronNode, alice: Customer, clock: Clock
) -> None:
    fake.stop()
    report = Scanner(settings, clock=clock).run_once()
    assert "ConnectionError" in report.error
    assert load_state("mainnet").cursor is None


def test_malformed_infos_do_not_stop_the_block(fake: FakeTronNode, alice: Customer, scanner: Scanner) -> None:
    block = fake.head + 1
    to = alice.address.address
    bad = {
        "abc": {"blockNumber": "abc"},
        "no_topics": {"log": [{"address": USDT, "data": "00" * 32}]},
        "two_topics": {
            "log": [{**transfer_log(SENDER, to, 1), "topics": transfer_log(SENDER, to, 1)["topics"][:2]}]
        },
        "short_data": {"log": [{**transfer_log(SENDER, to, 1), "data": "0" * 63}]},
        "huge": {"log": [transfer_log(SENDER, to, 2**63)]},
    }
    ids = {
        name: fake.add_transfer(SENDER, to, 9_000_000, block=block, **extra) for name, extra in bad.items()
    }
    fake.add_raw_info(block, "not an object")
    fake.add_raw_info(block, {"id": "zz", "log": "nope"})
    good = fake.add_transfer(SENDER, to, 11_000_000, block=block)
    fake.solidify()
    assert scanner.run_once().error == ""
    status = {d.txid: d.status for d in TronDeposit.select()}
    assert status[ids["abc"]] == "manual_review"
    assert status[ids["short_data"]] == "manual_review" and status[ids["huge"]] == "manual_review"
    assert ids["no_topics"] not in status and ids["two_topics"] not in status
    assert status[good] == "credited"
    assert alice.balance == 11_000_000_000


def test_transfers_to_strangers_are_ignored(fake: FakeTronNode, alice: Customer, scanner: Scanner) -> None:
    block = fake.head + 1
    fake.add_transfer(SENDER, STRANGER, 99_000_000, block=block)
    ours = fake.add_transfer(SENDER, alice.address.address, 6_000_000, block=block)  # the scan did run
    fake.solidify()
    assert scanner.run_once().error == ""
    assert deposits() == [(ours, 0, "credited", 6_000_000)]
    assert alice.balance == 6_000_000_000 and LedgerEntry.select().count() == 1
    assert load_state("mainnet").cursor == block


@pytest.mark.parametrize("discovery", ["blocks", "logs"])
def test_api_key_goes_on_every_call_and_never_to_logs(
    settings: Settings,
    fake: FakeTronNode,
    alice: Customer,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    discovery: str,
) -> None:
    config.update({"node_url": fake.url + "trongrid/", "discovery": discovery}, settings.secret_key)
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    fake.fail(path="getnodeinfo", status=500, times=1)
    with caplog.at_level("DEBUG"):
        Scanner(settings, clock=clock).run_once()
        clock.advance(3600)
        Scanner(settings, clock=clock).run_once()
    assert alice.balance == 12_000_000_000
    keys = {r["headers"].get("tron-pro-api-key") for r in fake.requests}
    assert keys == {"test-api-key"}
    assert "test-api-key" not in caplog.text
    assert all(r["path"].startswith(("wallet", "v1", "jsonrpc")) for r in fake.requests)
    assert ("jsonrpc" in fake.paths()) == (discovery == "logs")


def test_rate_is_snapshotted_and_floored(
    settings: Settings, fake: FakeTronNode, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    config.update({"rate": "0.333333333"}, settings.secret_key)
    first = fake.add_transfer(SENDER, alice.address.address, 12_345_678)
    fake.solidify()
    scanner.run_once()
    row = TronDeposit.get(TronDeposit.txid == first)
    assert row.credited_units == 12_345_678 * 333_333_333 // 1_000_000  # 4115225.95… floored
    assert row.rate == "0.333333333" and row.rate_source.startswith("config:manual@")
    config.update({"rate": "1"}, settings.secret_key)
    second = fake.add_transfer(SENDER, alice.address.address, 10_000_000)
    fake.solidify()
    clock.advance(30)
    scanner.run_once()
    assert TronDeposit.get(TronDeposit.txid == first).credited_units == 4_115_225_995
    assert TronDeposit.get(TronDeposit.txid == second).rate_source == "config:peg"
    assert alice.balance == 4_115_225_995 + 10_000_000_000


def test_rescanning_the_same_blocks_is_harmless(
    settings: Settings, fake: FakeTronNode, alice: Customer, clock: Clock
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    Scanner(settings, clock=clock).run_once()
    state = load_state("mainnet")
    state.cursor = 90  # an overlapping range, as after a restore from backup
    save_state("mainnet", state)
    clock.advance(30)
    assert Scanner(settings, clock=clock).run_once().error == ""
    asked = [
        r["body"]["num"] for r in fake.requests if r["path"] == "walletsolidity/gettransactioninfobyblocknum"
    ]
    assert asked.count(fake.solid) == 2  # the transfer's block really was read again
    assert TronDeposit.select().count() == 1 and LedgerEntry.select().count() == 1
    assert OutgoingMail.select().count() == 1  # one notice per deposit, however often it is read
    assert alice.balance == 12_000_000_000


def test_deposit_row_and_ledger_entry_commit_or_roll_back_together(
    alice: Customer, tron: config.TronConfig
) -> None:
    address = known_addresses()[alice.address.address_hex]
    finding = Finding("d" * 64, 0, address, "credited", 7_000_000, USDT_HEX, "", 101, 0)
    with pytest.raises(RuntimeError), write_transaction():
        assert record(finding, tron) is not None
        assert TronDeposit.select().count() == 1 and LedgerEntry.select().count() == 1
        raise RuntimeError("crash after both writes")
    assert TronDeposit.select().count() == 0 and LedgerEntry.select().count() == 0
    assert OutgoingMail.select().count() == 0  # no mail for a credit that never happened
    assert User.get_by_id(alice.user.id).balance == 0
    LedgerEntry.create(user=alice.user.id, kind="deposit", amount=1, ref="tron:mainnet:" + "d" * 64 + ":0")
    with pytest.raises(Exception, match="tron:mainnet"):
        record(finding, tron)
    assert TronDeposit.select().count() == 0  # the row did not survive the failed credit


def test_a_contract_without_6_decimals_is_not_scanned(
    fake: FakeTronNode, alice: Customer, scanner: Scanner
) -> None:
    fake.decimals[USDT_HEX] = 18
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    report = scanner.run_once()
    assert "18 decimals" in report.error and alice.balance == 0
    assert load_state("mainnet").cursor is None


def test_a_node_whose_height_goes_down_is_not_trusted(
    fake: FakeTronNode, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    scanner.run_once()
    cursor = load_state("mainnet").cursor
    fake.solid -= 5
    clock.advance(30)
    report = scanner.run_once()
    assert "went down" in report.error and load_state("mainnet").cursor == cursor
