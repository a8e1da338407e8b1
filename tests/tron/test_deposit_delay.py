"""The Deposit tab promises credit in minutes only while the scanner keeps up with the chain."""

from __future__ import annotations

import pytest
from flask import Flask

from shared.models import utcnow
from shared.settings import Settings
from shared.tron import config
from shared.tron.scanner import Scanner
from tests.console.conftest import Console, app, text, web  # noqa: F401 (fixtures)
from tests.tron.conftest import Clock, Customer, make_customer
from tests.tron.fake_node import FakeTronNode

PROMISE = "about 1–2 minutes after the block is solidified"
DELAYED = "Crediting is delayed"


@pytest.fixture
def customer(app: Flask, tron: config.TronConfig) -> Customer:  # noqa: F811
    return make_customer("alice@example.com")


@pytest.fixture
def live_scanner(settings: Settings) -> Scanner:
    """A scanner on the real clock, as the worker runs it."""
    return Scanner(settings, clock=Clock(utcnow()))


def test_a_scanner_keeping_up_keeps_the_promise(
    web: Console,  # noqa: F811
    customer: Customer,
    live_scanner: Scanner,
) -> None:
    live_scanner.run_once()
    web.login_as(customer.user)

    page = text(web.get("/billing/deposit"))

    assert PROMISE in page and DELAYED not in page


def test_an_unreachable_node_says_crediting_is_delayed(
    web: Console,  # noqa: F811
    customer: Customer,
    fake: FakeTronNode,
    live_scanner: Scanner,
) -> None:
    fake.fail(status=503, body="down")
    report = live_scanner.run_once()
    web.login_as(customer.user)

    page = text(web.get("/billing/deposit"))

    assert report.error and DELAYED in page and PROMISE not in page


def test_a_scanner_that_never_ran_or_stopped_long_ago_says_crediting_is_delayed(
    web: Console,  # noqa: F811
    customer: Customer,
    settings: Settings,
) -> None:
    web.login_as(customer.user)
    never = text(web.get("/billing/deposit"))
    Scanner(settings, clock=Clock()).run_once()  # a success, at a time long gone

    stale = text(web.get("/billing/deposit"))

    assert DELAYED in never and DELAYED in stale and PROMISE not in stale
