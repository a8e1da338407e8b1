"""Usage, billing ledger and dashboard: filters, pagination, CSV, running balance, no N+1, privacy."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

from playhouse.test_utils import assert_query_count

from shared.accounts import create_key
from shared.billing import Settlement, adjust, post_entry, settle
from shared.models import User, utcnow
from tests.console.conftest import Console, text


def _requests(user: User, count: int, model: str = "gpt-test", key_id: int | None = None, **extra) -> None:  # type: ignore[no-untyped-def]
    post_entry(user.id, 10_000_000_000, "deposit", f"dep:{uuid.uuid4().hex}", reason="test deposit")
    settle(
        [
            Settlement(
                request_id=uuid.uuid4().hex,
                user_id=user.id,
                hold_id=None,
                api_key_id=key_id,
                model=model,
                charge=1_234 + i,
                cost=1_000,
                prompt_tokens=10,
                completion_tokens=5,
                latency_ms=42,
                **extra,
            )  # fmt: skip
            for i in range(count)
        ]
    )


def test_usage_lists_only_my_requests_with_key_names(
    web: Console, customer: User, other_customer: User
) -> None:
    key, _ = create_key(customer, name="laptop")
    _requests(customer, 2, key_id=key.id)
    their_key, _ = create_key(other_customer, name="bobs-key")
    _requests(other_customer, 3, model="secret-model", key_id=their_key.id)
    web.login_as(customer)
    body = text(web.get("/usage"))
    assert (
        body.count("<td>laptop</td>") == 2 and "$0.00000124" in body
    )  # sub-cent charges stay visible (3 digits)
    assert body.count("<code>gpt-test</code>") == 2
    assert "secret-model" not in body and "bobs-key" not in body
    assert "secret-model" not in text(web.get(f"/usage?key={their_key.id}"))
    assert "No requests yet" in text(web.get(f"/usage?key={their_key.id}"))


def test_usage_filters_and_pages(web: Console, customer: User) -> None:
    _requests(customer, 55)
    _requests(customer, 2, model="other-model", created_at=utcnow() - dt.timedelta(days=40))
    web.login_as(customer)
    first = text(web.get("/usage"))
    assert "Older →" in first and first.count("<code>gpt-test</code>") == 50
    second = text(web.get("/usage?page=2"))
    assert second.count("<code>gpt-test</code>") == 5 and "← Newer" in second
    assert text(web.get("/usage?model=other-model")).count("<code>other-model</code>") == 2
    since = (utcnow() - dt.timedelta(days=1)).date().isoformat()
    assert "other-model" not in text(web.get(f"/usage?date_from={since}&page=2"))
    bad = web.get("/usage?date_from=yesterday")
    assert bad.status_code == 200 and "use YYYY-MM-DD" in text(bad)
    partial = web.get("/usage?model=other-model", headers={"HX-Request": "true"})
    assert "<html" not in text(partial) and "other-model" in text(partial)


def test_usage_page_is_one_query_whatever_the_rows(web: Console, customer: User) -> None:
    web.login_as(customer)
    _requests(customer, 3)
    web.get("/usage")  # warm-up: the session loader and CSRF are outside the count's point
    with assert_query_count(3):  # the session user, the keys for the filter, the page itself
        web.get("/usage")
    _requests(customer, 40)
    with assert_query_count(3):
        web.get("/usage")


def test_csv_export_has_every_matching_row(web: Console, customer: User, other_customer: User) -> None:
    key, _ = create_key(customer, name="ci")
    _requests(customer, 60, key_id=key.id)
    _requests(other_customer, 2)
    web.login_as(customer)
    response = web.get("/usage/export.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text(response))))
    assert len(rows) == 60 and {r["customer"] for r in rows} == {customer.email}
    assert rows[-1]["key"] == "ci" and rows[-1]["charge_usd"] == "0.000001234"


def test_ledger_shows_running_balance_and_only_mine(
    web: Console, customer: User, other_customer: User, operator: User
) -> None:
    post_entry(customer.id, 5_000_000_000, "deposit", "dep:1", reason="USDT deposit")
    adjust(customer.id, -1_500_000_000, "refund of a bad charge", actor_id=operator.id)
    settle(
        [Settlement(request_id="r1", user_id=customer.id, hold_id=None, api_key_id=None, model="m", charge=5)]
    )
    post_entry(other_customer.id, 7_000_000_000, "deposit", "dep:2", reason="bobs deposit")
    web.login_as(customer)
    body = text(web.get("/billing"))
    # Balances in cents, grouped: 5 - 1.5 - 0.000000005 reads $3.50, never $3.499999995.
    assert "$3.499999995" not in body
    assert "$3.50" in body and "$5.00" in body
    assert "refund of a bad charge" in body and "-$1.50" in body
    assert "bobs deposit" not in body and "$7.00" not in body
    assert "Deposit" in body  # the deposit tab's place


def test_dashboard_shows_balance_spend_and_recent(web: Console, customer: User, other_customer: User) -> None:
    _requests(customer, 3)
    _requests(other_customer, 4, model="bobs-model")
    web.login_as(customer)
    body = text(web.get("/"))
    assert "$10.00" in body and "9.999996295" not in body  # 10 − (1234+1235+1236) nano
    assert "$0.0000037" in body and "3 requests" in body
    assert 'id="chart-data"' in body and "uplot-1.6.32.iife.min.js" in body
    chart = json.loads(re.search(r'id="chart-data">(.*?)</script>', body).group(1))
    assert sum(chart["requests"]) == 3 and round(sum(chart["spend"]) * 1e9) == 3_705  # mine, not Bob's
    assert body.count("<code>gpt-test</code>") == 3 and "bobs-model" not in body
