"""The Deposit tab and the operator's deposits page, through the Flask test client."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from shared.accounts import get_or_create_group
from shared.models import User
from shared.settings import Settings
from shared.tron import config
from shared.tron.claims import mark_hot
from shared.tron.models import TronAddress, TronDeposit, TronPending
from shared.tron.scanner import Scanner
from tests.console.conftest import Console, app, text, web  # noqa: F401 (fixtures)
from tests.tron.conftest import SENDER, VECTORS, XPUB, Clock, Customer, make_customer
from tests.tron.fake_node import USDT, FakeTronNode

NILE_TOKEN = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


@pytest.fixture
def shop(app: Flask, tron: config.TronConfig) -> tuple[Customer, Customer]:  # noqa: F811
    return make_customer("alice@example.com"), make_customer("bob@example.com")


def test_deposit_tab_shows_address_qr_rules_and_own_deposits_only(
    web: Console,  # noqa: F811
    shop: tuple[Customer, Customer],
    fake: FakeTronNode,
    scanner: Scanner,
) -> None:
    alice, bob = shop
    fake.add_transfer(SENDER, alice.address.address, 12_340_000)
    fake.add_transfer(SENDER, alice.address.address, 1_000_000)
    bobs = fake.add_transfer(SENDER, bob.address.address, 20_000_000)
    fake.solidify()
    scanner.run_once()
    web.login_as(alice.user)
    page = text(web.get("/billing/deposit"))
    assert VECTORS[0] in page and "<svg" in page and "TRON / TRC-20 only" in page
    assert USDT in page and 'data-testid="minimum">5<' in page and "$1.00" in page
    assert 'data-status="credited"' in page and 'data-status="below_minimum"' in page
    assert bobs[:12] not in page and "$12.34" in page


def test_deposit_tab_lists_only_my_unconfirmed_transfers(
    web: Console,  # noqa: F811
    shop: tuple[Customer, Customer],
    fake: FakeTronNode,
    scanner: Scanner,
    clock: Clock,
) -> None:
    alice, bob = shop
    mine = fake.add_transfer(SENDER, alice.address.address, 11_000_000)
    bobs = fake.add_transfer(SENDER, bob.address.address, 22_000_000)  # neither block is solid yet
    for customer in shop:
        mark_hot(customer.address, clock.now)
    assert scanner.run_once().error == ""
    assert sorted((p.txid, p.user_id) for p in TronPending.select()) == sorted(
        [(mine, alice.user.id), (bobs, bob.user.id)]
    )
    web.login_as(alice.user)
    page = text(web.get("/billing/deposit"))
    pending = re.search(r'data-testid="pending">(.*?)</table>', page, re.S).group(1)
    assert pending.count("<tr>") == 2  # the header and my one transfer
    assert f"<code>{mine[:12]}…</code>" in pending and '<td class="num">11</td>' in pending
    assert bobs[:12] not in page and "22</td>" not in page


def test_deposit_tab_assigns_an_address_on_first_visit(
    web: Console,  # noqa: F811
    app: Flask,  # noqa: F811
    tron: config.TronConfig,
) -> None:
    user = User.create(email="new@example.com", group=get_or_create_group())
    web.login_as(user)
    assert VECTORS[0] in text(web.get("/billing/deposit"))
    assert TronAddress.get(TronAddress.user == user.id).hot_until is not None


def test_ive_paid_checks_the_transaction_at_once(
    web: Console,  # noqa: F811
    shop: tuple[Customer, Customer],
    fake: FakeTronNode,
) -> None:
    alice, _ = shop
    web.login_as(alice.user)
    web.get("/billing/deposit")
    bad = web.post("/billing/deposit/check", {"txid": "not-a-txid"})
    assert bad.status_code == 200 and "64 hexadecimal characters" in text(bad)
    too_long = text(web.post("/billing/deposit/check", {"txid": "a" * 101}))
    assert "Field cannot be longer than 100 characters." in too_long
    assert "Open the Deposit tab first" not in too_long
    txid = fake.add_transfer(SENDER, alice.address.address, 30_000_000)
    fake.solidify()
    done = web.post("/billing/deposit/check", {"txid": txid}, follow_redirects=True)
    assert done.status_code == 200 and alice.balance == 30_000_000_000
    assert "$30.00" in text(done)


def test_ive_paid_with_the_node_down_says_so(
    web: Console,  # noqa: F811
    shop: tuple[Customer, Customer],
    fake: FakeTronNode,
) -> None:
    alice, _ = shop
    web.login_as(alice.user)
    fake.stop()
    response = web.post("/billing/deposit/check", {"txid": "ab" * 32})
    assert response.status_code == 200 and "could not be reached" in text(response)


def test_operator_page_shows_deposits_scanner_and_reconciliation(
    web: Console,  # noqa: F811
    shop: tuple[Customer, Customer],
    fake: FakeTronNode,
    scanner: Scanner,
) -> None:
    alice, bob = shop
    fake.add_transfer(SENDER, alice.address.address, 12_000_000)
    fake.solidify()
    scanner.run_once()
    fake.set_token_balance(bob.address.address, 7_000_000)  # arrived without a Transfer we saw
    web.login_as(alice.user)
    assert web.get("/operator/deposits").status_code == 403
    operator = User.create(email="op@example.com", role="operator", group=get_or_create_group())
    web.login_as(operator)
    page = text(web.get("/operator/deposits"))
    assert "alice@example.com" in page and 'data-testid="node-ok">reachable' in page
    assert f'data-testid="cursor">{fake.solid}<' in page
    checked = text(web.post("/operator/deposits/reconcile"))
    assert 'data-testid="reconciliation"' in checked
    assert '<td class="num neg">7</td>' in checked


def test_operator_edits_settings_and_bad_values_are_refused(
    web: Console,  # noqa: F811
    settings: Settings,
    shop: tuple[Customer, Customer],
) -> None:
    operator = User.create(email="op@example.com", role="operator", group=get_or_create_group())
    web.login_as(operator)
    form = {
        "network": "nile",
        "node_url": "http://127.0.0.1:9/",
        "api_key": "",
        "usdt_contract": NILE_TOKEN,
        "min_deposit_micro": "10",
        "rate": "0.98",
        "xpub": XPUB,
        "discovery": "logs",
        "start_block": "0",
        "sweep_threshold_micro": "20",
        "treasury": "",
    }
    saved = web.post("/operator/deposits/config", form)
    assert saved.status_code == 303
    stored = config.load(settings.secret_key)
    assert (stored.network, stored.min_deposit_micro, stored.rate) == ("nile", 10_000_000, "0.98")
    assert stored.discovery == "logs"
    assert str(stored.api_key) == "test-api-key"  # an empty field keeps the key
    refused = web.post("/operator/deposits/config", {**form, "xpub": "xprv-nonsense", "rate": "2"})
    assert refused.status_code == 200 and "not an extended public key" in text(refused)
    mixed = web.post("/operator/deposits/config", {**form, "usdt_contract": USDT, "rate": "2"})
    assert mixed.status_code == 200 and "is mainnet USDT" in text(mixed)
    assert config.load(settings.secret_key).rate == "0.98"
    assert TronDeposit.select().count() == 0
