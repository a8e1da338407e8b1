"""Money reads as people write it, and money typed into forms is a plain number or a clear error."""

from __future__ import annotations

import pytest

from shared.billing import post_entry
from shared.models import LedgerEntry, User
from shared.money_text import money_text
from tests.console.conftest import Console, text

BALANCE = 1_019_935_499_600  # $1,019.9354996


def test_balances_are_grouped_and_in_cents(web: Console, customer: User, operator: User) -> None:
    post_entry(customer.id, BALANCE, "deposit", "dep:1")

    web.login_as(customer)
    dashboard, billing = text(web.get("/")), text(web.get("/billing"))
    web.login_as(operator)
    user_page = text(web.get(f"/operator/users/{customer.id}"))

    for page in (dashboard, billing, user_page):
        assert "$1,019.94" in page and "1019.9354996" not in page


@pytest.mark.parametrize(
    ("nano", "shown"),
    [
        (BALANCE, "$1,019.94"),
        (343_000, "$0.000343"),
        (1_234_567, "$0.00123"),
        (0, "$0.00"),
        (-2_500_000_000, "-$2.50"),
        (1_234_567_890_123_000, "$1,234,567.89"),
    ],
)
def test_money_text_for_people(nano: int, shown: str) -> None:
    assert money_text(nano) == shown


def test_prices_keep_every_digit_and_other_locales_fall_back_to_english() -> None:
    assert money_text(75_000_000, exact=True) == "$0.075"
    assert money_text(1_250_000_000_000, exact=True) == "$1,250.00"
    assert money_text(BALANCE, locale="fr_FR") == money_text(BALANCE) == "$1,019.94"


@pytest.mark.parametrize("typed", ["1e3", "inf", "nan", "-inf", "1_000", "12.5.1", "0x10", "9" * 16])
def test_balance_form_refuses_what_is_not_plainly_a_number(
    web: Console, operator: User, customer: User, typed: str
) -> None:
    web.login_as(operator)

    page = web.post(f"/operator/users/{customer.id}/adjust", {"amount": typed, "reason": "credit"})

    assert page.status_code == 200 and "Enter an amount in USD, like 2.50" in text(page)
    assert LedgerEntry.select().count() == 0 and User.get_by_id(customer.id).balance == 0


def test_balance_form_takes_grouped_dollars(web: Console, operator: User, customer: User) -> None:
    web.login_as(operator)

    done = web.post(f"/operator/users/{customer.id}/adjust", {"amount": "$1,000.50", "reason": "credit"})

    assert done.status_code == 303 and User.get_by_id(customer.id).balance == 1_000_500_000_000
