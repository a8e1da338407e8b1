"""The operator's overview: its totals are the ledger's, and every panel shows what happened."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from peewee import fn

from console.filters import usd
from shared.accounts import create_user
from shared.billing import Settlement, post_entry, settle
from shared.heartbeat import record_heartbeat
from shared.models import LedgerEntry, UsageRecord, User, utcnow
from shared.notices import Preferences, save_preferences
from shared.tron.models import TronDeposit
from tests.console.conftest import Console, text

NANO = 1_000_000_000


def _nano(page: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}" data-nano="(-?\d+)"[^>]*>([^<]+)<', page)
    assert match, f"no {testid} on the page"
    assert match.group(2) == usd(int(match.group(1)))  # shown as the money filter formats it
    return int(match.group(1))


def _seed_month(user: User, now: dt.datetime) -> None:
    """45 days of usage, a few requests a day, some failed, through the real settlement."""
    post_entry(user.id, 1_000 * NANO, "deposit", f"seed:{uuid.uuid4().hex}")
    batch = []
    for day in range(45):
        for n in range(day % 4 + 1):
            failed = n == 2
            batch.append(
                Settlement(
                    request_id=uuid.uuid4().hex, user_id=user.id, hold_id=None, api_key_id=None,
                    model="m", charge=0 if failed else 1_234_567 * (n + 1) + day,
                    cost=0 if failed else 1_000_003 * (n + 1), status="error" if failed else "ok",
                    provider="alpha" if n % 2 else "beta", upstream_model="up-" + str(n % 2),
                    created_at=now - dt.timedelta(days=day, minutes=n),
                )
            )  # fmt: skip
    settle(batch)


def _ledger_sums(since: dt.datetime) -> tuple[int, int]:
    charged = (
        LedgerEntry.select(fn.SUM(LedgerEntry.amount))
        .where((LedgerEntry.kind == "charge") & (LedgerEntry.created_at >= since))
        .scalar()
    )
    cost = UsageRecord.select(fn.SUM(UsageRecord.cost)).where(UsageRecord.created_at >= since).scalar()
    return -int(charged), int(cost)


def test_operator_home_is_the_overview_and_customers_keep_their_dashboard(
    web: Console, other_web: Console, operator: User, customer: User
) -> None:
    web.login_as(operator)
    home = web.get("/")
    assert home.status_code == 200 and "Revenue, cost and margin per day" in text(home)
    other_web.login_as(customer)
    assert "Spend this month" in text(other_web.get("/"))
    assert other_web.get("/operator/overview").status_code == 403


def test_overview_totals_equal_the_ledger_for_each_period(
    web: Console, operator: User, customer: User
) -> None:
    now = utcnow()
    _seed_month(customer, now)
    web.login_as(operator)
    for days in (7, 30, 90):
        first = now.date() - dt.timedelta(days=days - 1)
        revenue, cost = _ledger_sums(dt.datetime(first.year, first.month, first.day))
        page = text(web.get(f"/operator/overview?days={days}"))
        assert _nano(page, "revenue") == revenue
        assert _nano(page, "cost") == cost
        assert _nano(page, "margin") == revenue - cost
        assert f'class="chip active">{days} days' in page
    assert revenue == -int(
        LedgerEntry.select(fn.SUM(LedgerEntry.amount)).where(LedgerEntry.kind == "charge").scalar()
    )
    bogus = web.get("/operator/overview?days=abc")
    assert bogus.status_code == 200 and 'class="chip active">30 days' in text(bogus)


def test_overview_panels(web: Console, operator: User, customer: User, other_customer: User) -> None:
    now = utcnow()
    _seed_month(customer, now)
    post_entry(other_customer.id, 2 * NANO, "deposit", "tron:nile:tx1:0")
    post_entry(other_customer.id, -int(1.5 * NANO), "adjustment", "adj:spent")
    save_preferences(other_customer.id, Preferences(low_balance_threshold=NANO))
    create_user("quiet@example.com")  # no ledger history: never listed as low
    TronDeposit.create(
        network="nile", txid="ab" * 32, log_index=0, token_contract="41" + "0" * 40, to_hex="41" + "1" * 40,
        user=customer.id, amount_micro=1_000_000, status="below_minimum", reason="below the 5 USDT minimum",
    )  # fmt: skip
    record_heartbeat()
    web.login_as(operator)
    page = text(web.get("/operator/overview?days=7"))
    deposits = page[page.index('data-testid="deposits-24h"') :]
    assert usd(1_002 * NANO) in deposits  # both deposits are within 24 h
    assert "below the 5 USDT minimum" in page
    assert "alive" in page[page.index('data-testid="worker"') :][:200]
    assert "not configured" in page[page.index('data-testid="scanner"') :][:300]
    low = page[page.index('data-testid="low-balances"') :]
    assert other_customer.email in low and "quiet@example.com" not in low and customer.email not in low
    routes = page[page.index("By route") :]
    assert "alpha · up-1" in routes and "beta · up-0" in routes
    assert "<svg" in page and "<script src" not in page.split("<main")[1].split("</main>")[0]
    customers = page[page.index('data-testid="top-customers"') :]
    assert customer.email in customers
