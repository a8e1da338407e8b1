"""Logs mode (TRON.md §6.2 #15): eth_getLogs finds candidates in address chunks and block ranges,
and only their solid TransactionInfo credits anything."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from peewee import chunked
from tronpy.keys import to_base58check_address

from shared.accounts import get_or_create_group
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import LedgerEntry, User, utcnow
from shared.settings import Settings
from shared.tron import config
from shared.tron.claims import mark_hot
from shared.tron.models import TronAddress, TronDeposit, TronPending
from shared.tron.scanner import Scanner
from shared.tron.state import load_state, save_state
from tests.tron.conftest import SENDER, STRANGER, Clock, Customer
from tests.tron.fake_node import (
    TRANSFER_TOPIC,
    USDT_HEX,
    FakeTronNode,
    LogCall,
    rpc_log,
    topic_of,
    transfer_log,
)

CROWD = 2_500


@pytest.fixture
def logs_mode(settings: Settings, tron: config.TronConfig) -> config.TronConfig:
    return config.update({"discovery": "logs"}, settings.secret_key)


@pytest.fixture
def crowd(logs_mode: config.TronConfig) -> list[TronAddress]:
    """2,500 customers with imported deposit addresses, inserted in bulk; sorted by hex address."""
    group, now = get_or_create_group(), utcnow()
    users = [{"email": f"crowd-{i}@example.com", "group": group.id, "created_at": now} for i in range(CROWD)]
    with write_transaction():
        for batch in chunked(users, 500):
            User.insert_many(batch).execute()
    ids = [u.id for u in User.select(User.id).where(User.email.startswith("crowd-")).order_by(User.id)]
    rows = []
    for i, user_id in enumerate(ids):
        hex_address = "41" + hashlib.sha256(f"crowd {i}".encode()).hexdigest()[:40]
        rows.append(
            {
                "user": user_id,
                "address": to_base58check_address(hex_address),
                "address_hex": hex_address,
                "source": "import",
                "assigned_at": now,
                "created_at": now,
            }
        )
    with write_transaction():
        for batch in chunked(rows, 500):
            TronAddress.insert_many(batch).execute()
    return list(TronAddress.select().order_by(TronAddress.address_hex))


def deposits() -> list[tuple[str, str, int]]:
    return [(d.txid, d.status, d.amount_micro) for d in TronDeposit.select().order_by(TronDeposit.id)]


def balance(address: TronAddress) -> int:
    return User.get_by_id(address.user_id).balance


def ranges_asked(calls: list[LogCall]) -> list[tuple[int, int]]:
    """The distinct block ranges answered with logs, in order."""
    return sorted({(c.first, c.last) for c in calls if c.ok})


def assert_tiles(ranges: list[tuple[int, int]], first: int, last: int) -> None:
    """The ranges cover first..last exactly: no gap, no overlap."""
    assert ranges[0][0] == first and ranges[-1][1] == last
    assert all(prev[1] + 1 == nxt[0] for prev, nxt in zip(ranges, ranges[1:], strict=False))


def verified_txids(fake: FakeTronNode) -> list[str]:
    return [r["body"]["value"] for r in fake.requests if r["path"] == "walletsolidity/gettransactioninfobyid"]


def rpc_body(result: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": result})


def test_2500_addresses_are_asked_in_3_chunks_per_range_and_each_deposit_credited_once(
    fake: FakeTronNode, crowd: list[TronAddress], scanner: Scanner
) -> None:
    fake.mine(6_000)  # blocks 100..6110: two ranges, 100..5099 and 5100..6110
    first, middle, last = crowd[0], crowd[1_500], crowd[-1]
    sent = [(first, 100, 11_000_000), (middle, 5_099, 12_000_000), (last, 5_100, 13_000_000)]
    sent.append((first, fake.head, 14_000_000))
    txids = [fake.add_transfer(SENDER, a.address, value, block=block) for a, block, value in sent]
    fake.solidify()
    report = scanner.run_once()
    assert report.error == "" and report.blocks == fake.solid - 99
    assert deposits() == [(t, "credited", v) for t, (_, _, v) in zip(txids, sent, strict=True)]
    assert {d.found_by for d in TronDeposit.select()} == {"logs"}
    assert balance(first) == 25_000_000_000 and balance(middle) == 12_000_000_000
    assert balance(last) == 13_000_000_000 and LedgerEntry.select().count() == 4
    calls = fake.log_calls()
    assert [(c.first, c.last) for c in calls] == [(100, 5_099)] * 3 + [(5_100, fake.solid)] * 3
    assert all(c.ok and len(c.recipients) <= 1_000 for c in calls)
    everyone = sorted(topic_of(a.address) for a in crowd)
    for chunks in (calls[:3], calls[3:]):
        assert sorted(t for c in chunks for t in c.recipients) == everyone  # each address once
        homes = [
            next(i for i, c in enumerate(chunks) if topic_of(a.address) in c.recipients)
            for a, _, _ in sent[:3]
        ]
        assert sorted(homes) == [0, 1, 2]  # the three recipients sit in three different chunks
    params = next(r for r in fake.requests if r["path"] == "jsonrpc")["body"]["params"][0]
    assert params["address"] == "0x" + USDT_HEX[2:] and params["fromBlock"] == "0x64"
    assert params["topics"][:2] == ["0x" + TRANSFER_TOPIC, None]
    assert sorted(verified_txids(fake)) == sorted(txids)
    assert load_state("mainnet").cursor == fake.solid


def test_a_long_span_is_asked_in_ranges_of_at_most_5000_blocks(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner
) -> None:
    fake.mine(12_000)
    early = fake.add_transfer(SENDER, alice.address.address, 6_000_000, block=100)
    late = fake.add_transfer(SENDER, alice.address.address, 7_000_000, block=fake.head)
    fake.solidify()
    assert scanner.run_once().error == ""
    calls = fake.log_calls()
    assert [(c.first, c.last) for c in calls] == [(100, 5_099), (5_100, 10_099), (10_100, fake.solid)]
    assert all(c.ok for c in calls)
    assert deposits() == [(early, "credited", 6_000_000), (late, "credited", 7_000_000)]
    assert alice.balance == 13_000_000_000


def test_a_range_the_node_refuses_is_halved_until_it_passes_with_no_gap(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, bob: Customer, scanner: Scanner
) -> None:
    fake.max_log_range = 4  # the fake answers -32602 above 4 blocks
    first = fake.add_transfer(SENDER, alice.address.address, 8_000_000, block=100)
    last = fake.add_transfer(SENDER, bob.address.address, 9_000_000, block=110)
    fake.solidify()
    assert scanner.run_once().error == ""
    calls = fake.log_calls()
    refused = [c for c in calls if not c.ok]
    assert refused and all(c.last - c.first + 1 > 4 for c in refused)
    assert all(
        r.get("rpc_error") == -32602 for r in fake.requests if r["path"] == "jsonrpc" and r.get("rpc_error")
    )
    answered = ranges_asked(calls)
    assert answered == [(100, 102), (103, 105), (106, 108), (109, 110)]
    assert_tiles(answered, 100, 110)
    assert deposits() == [(first, "credited", 8_000_000), (last, "credited", 9_000_000)]
    assert alice.balance == 8_000_000_000 and bob.balance == 9_000_000_000
    assert load_state("mainnet").cursor == 110


def test_a_refusal_down_to_one_block_is_a_failed_call(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    fake.add_transfer(SENDER, alice.address.address, 8_000_000, block=105)
    fake.solidify()
    refusal = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "exceed max block range"}}
    fake.fail(path="jsonrpc", body=json.dumps(refusal))
    report = scanner.run_once()
    calls = fake.log_calls()
    assert "refused even block 100" in report.error
    assert [c.last - c.first + 1 for c in calls] == [11, 6, 3, 2, 1]  # halving, then giving up
    assert load_state("mainnet").cursor == 99 and alice.balance == 0
    fake.heal()
    clock.advance(3600)
    assert scanner.run_once().error == "" and alice.balance == 8_000_000_000


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "body": "<html>busy</html>"},
        {
            "status": 429,
            "body": '{"jsonrpc": "2.0", "id": 1, "error": {"code": 429, "message": "slow down"}}',
        },
        {"drop": True},
        {"body": '{"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "internal error"}}'},
        {"body": '{"jsonrpc": "2.0", "id": 1, "error": "not an object"}'},
        {"body": rpc_body({"logs": []})},
        {"body": '{"jsonrpc": "2.0", "id": 1}'},
        {"body": '[{"jsonrpc": "2.0"'},
    ],
)
def test_a_failed_chunk_credits_nothing_and_keeps_the_cursor(
    settings: Settings, fake: FakeTronNode, crowd: list[TronAddress], clock: Clock, fault: dict
) -> None:
    scanner = Scanner(settings.__class__(**{**settings.__dict__, "tron_node_timeout_s": 0.5}), clock=clock)
    assert scanner.run_once().error == ""
    cursor = load_state("mainnet").cursor
    assert cursor == fake.solid
    fake.add_transfer(SENDER, crowd[0].address, 10_000_000)  # found by the first chunk
    fake.add_transfer(SENDER, crowd[-1].address, 20_000_000)  # found by the last one
    fake.solidify()
    fake.fail(path="jsonrpc", skip=1, times=1, **fault)  # the second chunk of three fails
    before = len(fake.log_calls())
    report = scanner.run_once()
    state = load_state("mainnet")
    assert report.error and state.cursor == cursor and state.node_ok is False
    assert state.failures == 1 and state.backoff_until > clock.now.isoformat()
    assert [c.ok for c in fake.log_calls()[before:]] == [True, False]  # stopped at the failure
    assert TronDeposit.select().count() == 0 and balance(crowd[0]) == 0
    assert scanner.run_once().skipped.startswith("backing off")
    clock.advance(3600)
    assert scanner.run_once().error == ""
    assert balance(crowd[0]) == 10_000_000_000 and balance(crowd[-1]) == 20_000_000_000
    assert load_state("mainnet").cursor == fake.solid


def test_rate_limits_on_jsonrpc_back_off_longer(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    fake.fail(path="jsonrpc", status=503, times=1)
    scanner.run_once()
    server_error = load_state("mainnet").backoff_until
    state = load_state("mainnet")
    state.failures, state.backoff_until = 0, ""
    save_state("mainnet", state)
    fake.fail(path="jsonrpc", status=429, times=1)
    assert "429" in scanner.run_once().error
    assert load_state("mainnet").backoff_until > server_error


def test_unconfirmed_then_confirmed_is_credited_once(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    solid = fake.solid
    fake.mine(4)
    txid = fake.add_transfer(SENDER, alice.address.address, 15_000_000)  # block solid + 5
    mark_hot(alice.address, clock.now)
    assert scanner.run_once().error == ""
    assert TronDeposit.select().count() == 0 and alice.balance == 0
    assert load_state("mainnet").cursor == solid
    assert all(c.last <= solid for c in fake.log_calls())
    assert [p.txid for p in TronPending.select()] == [txid]  # shown as pending, never credited
    fake.solidify()
    clock.advance(30)
    assert scanner.run_once().error == ""
    assert deposits() == [(txid, "credited", 15_000_000)]
    assert alice.balance == 15_000_000_000 and TronPending.select().count() == 0
    assert all(c.last <= fake.solid for c in fake.log_calls())


def test_a_candidate_without_solid_info_is_not_credited_and_holds_the_cursor(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 15_000_000, block=105)
    fake.fail(path="walletsolidity/gettransactioninfobyid", body="{}", times=1)  # a lagging solid view
    report = scanner.run_once()
    assert "no solid info" in report.error
    assert alice.balance == 0 and load_state("mainnet").cursor == 99
    clock.advance(3600)
    assert scanner.run_once().error == ""
    assert deposits() == [(txid, "credited", 15_000_000)] and alice.balance == 15_000_000_000


def test_running_again_and_rescanning_credit_nothing_twice(
    fake: FakeTronNode, logs_mode: config.TronConfig, alice: Customer, scanner: Scanner, clock: Clock
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 12_000_000, block=104)
    fake.solidify()
    scanner.run_once()
    asked = len(fake.log_calls())
    clock.advance(30)
    assert scanner.run_once().error == ""
    assert len(fake.log_calls()) == asked  # nothing new is solid: nothing to ask
    state = load_state("mainnet")
    state.cursor = 99  # an overlapping range, as after a restore from backup
    save_state("mainnet", state)
    clock.advance(30)
    assert scanner.run_once().error == ""
    assert len(fake.log_calls()) == asked + 1 and verified_txids(fake) == [txid, txid]
    assert deposits() == [(txid, "credited", 12_000_000)]
    assert LedgerEntry.select().count() == 1 and alice.balance == 12_000_000_000


def test_malformed_and_lying_entries_are_skipped_or_overruled(
    fake: FakeTronNode,
    logs_mode: config.TronConfig,
    alice: Customer,
    scanner: Scanner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    to = alice.address.address
    good = fake.add_transfer(SENDER, to, 9_000_000, block=101)
    elsewhere = fake.add_transfer(SENDER, STRANGER, 50_000_000, block=102)
    failed = fake.add_transfer(
        SENDER, to, 30_000_000, block=103, result="FAILED", receipt={"result": "REVERT"}
    )
    fake.solidify()

    def entry(txid: str, block: int, **changes: Any) -> dict[str, Any]:
        shown = rpc_log(transfer_log(SENDER, to, 1, contract=USDT_HEX), txid, block, 0, 0)
        assert shown is not None
        return {**shown, **changes}

    topics = entry(good, 101)["topics"]
    bad = [
        "not an object",
        entry(good, 101, topics=topics[:2]),
        entry(good, 101, topics=None),
        entry(good, 101, topics=[topics[0], topics[1], "0x1234"]),
        entry(good, 101, topics=["0x" + "8c" * 32, *topics[1:]]),  # Approval, not Transfer
        entry(good, 101, topics=[*topics[:2], "0x" + topic_of(STRANGER)]),  # not asked for
        entry(good, 101, address="0x" + "ab" * 20),  # another contract
        entry(good, 101, address=None),
        entry("zz", 101),
        entry(good, 101, transactionHash=12),
        entry(good, 101, blockNumber="0xzz"),
        entry(good, 101, blockNumber="0x1"),  # outside the range asked for
        entry(good, 101, removed=True),
    ]
    lying = [entry(elsewhere, 102), entry(failed, 103)]  # the solid info tells another story
    fake.fail(path="jsonrpc", body=rpc_body([*bad, *lying, entry(good, 101)]), times=1)
    with caplog.at_level("WARNING"):
        assert scanner.run_once().error == ""
    assert caplog.text.count("skipping an entry") == len(bad)
    assert sorted(verified_txids(fake)) == sorted([good, elsewhere, failed])
    assert deposits() == [(good, "credited", 9_000_000), (failed, "rejected", 30_000_000)]
    assert alice.balance == 9_000_000_000 and LedgerEntry.select().count() == 1


def test_no_assigned_address_means_no_call(
    fake: FakeTronNode, logs_mode: config.TronConfig, scanner: Scanner
) -> None:
    assert scanner.run_once().error == ""
    assert fake.log_calls() == [] and load_state("mainnet").cursor == fake.solid


def test_logs_is_a_discovery_mode_the_operator_can_choose(
    settings: Settings, tron: config.TronConfig
) -> None:
    assert config.update({"discovery": "logs"}, settings.secret_key).discovery == "logs"
    with pytest.raises(InvalidInput, match="blocks, trongrid, logs"):
        config.update({"discovery": "getlogs"}, settings.secret_key)
