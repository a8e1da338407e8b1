""" "I've paid": checked at once, credited exactly once, and only ever to the address's owner."""

from __future__ import annotations

import threading

import pytest

from shared.db import db
from shared.errors import InvalidInput
from shared.models import LedgerEntry
from shared.settings import Settings
from shared.tron import config
from shared.tron.claims import TooManyClaims, claim, throttle
from shared.tron.models import TronAddress, TronDeposit
from shared.tron.node import TronNode
from shared.tron.scanner import Scanner
from tests.tron.conftest import SENDER, T0, Clock, Customer
from tests.tron.fake_node import FakeTronNode


@pytest.fixture
def node(fake: FakeTronNode, tron: config.TronConfig) -> TronNode:
    client = TronNode(fake.url, "test-api-key", timeout_s=2)
    yield client
    client.close()


def test_claim_credits_a_solid_deposit_and_is_idempotent(
    fake: FakeTronNode, alice: Customer, tron: config.TronConfig, node: TronNode
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 20_000_000)
    fake.solidify()
    result = claim(alice.user.id, txid.upper(), tron, node, alice.address)
    assert result.status == "credited" and [d.found_by for d in result.deposits] == ["claim"]
    assert alice.balance == 20_000_000_000
    assert claim(alice.user.id, txid, tron, node, alice.address).status == "already"
    assert alice.balance == 20_000_000_000 and LedgerEntry.select().count() == 1
    assert TronAddress.get_by_id(alice.address.id).hot_until is not None


def test_scanner_after_claim_changes_nothing(
    fake: FakeTronNode, alice: Customer, tron: config.TronConfig, node: TronNode, scanner: Scanner
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 20_000_000)
    fake.solidify()
    claim(alice.user.id, txid, tron, node, alice.address)
    scanner.run_once()
    assert TronDeposit.select().count() == 1 and alice.balance == 20_000_000_000


def test_concurrent_claims_and_scans_credit_once(
    settings: Settings, fake: FakeTronNode, alice: Customer, tron: config.TronConfig
) -> None:
    txid = fake.add_transfer(SENDER, alice.address.address, 20_000_000)
    fake.solidify()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(kind: str, number: int) -> None:
        client = TronNode(fake.url, timeout_s=5)
        try:
            with db.connection_context():
                start.wait()
                if kind == "claim":
                    claim(alice.user.id, txid, tron, client, alice.address)
                else:
                    Scanner(settings, holder=f"scanner-{number}").run_once()
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test thread below)
            errors.append(exc)
        finally:
            client.close()

    threads = [
        threading.Thread(target=work, args=(k, i)) for i, k in enumerate(["claim", "claim", "claim", "scan"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [t.is_alive() for t in threads] == [False] * 4 and errors == []  # all four finished
    assert TronDeposit.select().count() == 1 and LedgerEntry.select().count() == 1
    assert alice.balance == 20_000_000_000


def test_claim_of_someone_elses_transfer_credits_the_owner_only(
    fake: FakeTronNode, alice: Customer, bob: Customer, tron: config.TronConfig, node: TronNode
) -> None:
    txid = fake.add_transfer(SENDER, bob.address.address, 30_000_000)
    fake.solidify()
    result = claim(alice.user.id, txid, tron, node, alice.address)
    assert result.status == "not_yours"
    assert alice.balance == 0 and bob.balance == 30_000_000_000
    assert TronDeposit.get().user_id == bob.user.id


@pytest.mark.parametrize("text", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "' OR 1=1 --"])
def test_claim_rejects_anything_but_64_hex(
    alice: Customer, tron: config.TronConfig, node: TronNode, text: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        claim(alice.user.id, text, tron, node, alice.address)
    assert info.value.field == "txid"


def test_claim_of_unknown_and_unsolidified_transactions(
    fake: FakeTronNode, alice: Customer, tron: config.TronConfig, node: TronNode
) -> None:
    assert claim(alice.user.id, "ab" * 32, tron, node, alice.address).status == "not_found"
    txid = fake.add_transfer(SENDER, alice.address.address, 20_000_000)
    result = claim(alice.user.id, txid, tron, node, alice.address)
    assert result.status == "pending" and alice.balance == 0
    assert TronDeposit.select().count() == 0
    assert TronAddress.get_by_id(alice.address.id).hot_until is not None


def test_claims_are_throttled_per_user(alice: Customer, bob: Customer, clock: Clock) -> None:
    throttle(alice.user.id, T0)
    with pytest.raises(TooManyClaims):
        throttle(alice.user.id, T0)
    throttle(bob.user.id, T0)
    clock.advance(5)
    throttle(alice.user.id, clock.now)
