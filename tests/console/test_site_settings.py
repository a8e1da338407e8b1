"""The operator's Settings page: product name, logo and banner on every page; sign-ups open, by
invitation or closed; the default group and welcome credit of new customers; the minimum deposit;
SMTP with a test mail; and the customers' own email notices (queued, then sent by the worker job).
"""

from __future__ import annotations

import io
import re
import socket

import pytest
from flask import Flask
from PIL import Image

from shared import jobs, outbox
from shared.accounts import create_user
from shared.billing import balances
from shared.models import Group, LedgerEntry, User
from shared.password_resets import issue_reset
from shared.settings import Settings
from shared.tron import config as tron_config
from tests.console.conftest import Console, text
from tests.support.smtp_sink import SmtpSink

PASSWORD = "correct horse battery"
GENERAL = {
    "product_name": "Tollgate",
    "announcement": "",
    "signups": "open",
    "default_group": "default",
    "welcome_credit": "0",
    "low_balance": "1",
    "min_deposit": "1",
}


def _save(web: Console, **changes: str):  # type: ignore[no-untyped-def]
    return web.post("/operator/settings", {**GENERAL, **changes})


def _signup(console: Console, email: str, url: str = "/signup"):  # type: ignore[no-untyped-def]
    return console.post(url, {"email": email, "password": PASSWORD, "confirm": PASSWORD})


@pytest.fixture
def admin(web: Console, operator: User) -> Console:
    web.login_as(operator)
    return web


def test_the_product_name_and_banner_show_on_every_page(app: Flask, admin: Console, customer: User) -> None:
    saved = _save(admin, product_name="Acme AI", announcement="Maintenance  on Sunday\n 02:00 UTC")
    assert saved.status_code == 303
    visitor = Console(app.test_client())
    login = text(visitor.get("/login"))
    assert "<title>Sign in · Acme AI</title>" in login and "Tollgate" not in login
    buyer = Console(app.test_client())
    buyer.login_as(customer)
    page = text(buyer.get("/"))
    assert 'class="brand"' in page and "Acme AI</a>" in page
    assert re.search(r'data-testid="announcement">Maintenance on Sunday 02:00 UTC<', page)
    assert "Acme AI · " in text(buyer.get("/keys"))


def test_a_bad_value_is_shown_by_its_field_and_nothing_is_saved(admin: Console) -> None:
    for changes, message in (
        ({"welcome_credit": "1e3"}, "Enter an amount in USD"),
        ({"product_name": ""}, "This field is required"),
        ({"signups": "everyone"}, "Not a valid choice"),
        ({"min_deposit": "lots"}, "not an amount: &#39;lots&#39;"),
    ):
        refused = _save(admin, **{"product_name": "Not saved", **changes})
        assert refused.status_code == 400, changes
        assert message in text(refused), changes
    assert "Not saved" not in text(admin.get("/operator/settings"))


def test_customers_cannot_see_or_change_the_settings(app: Flask, customer: User) -> None:
    buyer = Console(app.test_client())
    buyer.login_as(customer)
    assert buyer.get("/operator/settings").status_code in (403, 404)
    assert _save(buyer, product_name="Hijacked").status_code in (403, 404)
    assert "Hijacked" not in text(buyer.get("/"))


def test_the_minimum_deposit_is_the_deposits_own_setting(admin: Console, settings: Settings) -> None:
    assert _save(admin, min_deposit="12.5").status_code == 303
    assert tron_config.load(settings.secret_key).min_deposit_micro == 12_500_000
    assert 'value="12.5"' in text(admin.get("/operator/settings"))


def test_new_customers_join_the_default_group_with_the_welcome_credit_once(
    app: Flask, admin: Console
) -> None:
    Group.create(name="trial")
    assert _save(admin, default_group="trial", welcome_credit="2.50").status_code == 303
    newcomer = Console(app.test_client())
    assert _signup(newcomer, "new@example.com").status_code == 303
    user = User.get(User.email == "new@example.com")
    assert user.group.name == "trial"
    entries = list(LedgerEntry.select().where(LedgerEntry.user == user.id))
    assert [(e.kind, e.amount) for e in entries] == [("bonus", 2_500_000_000)]
    assert balances([user])[user.id].balance == 2_500_000_000
    assert "$2.50" in text(newcomer.get("/"))


def test_a_default_group_that_does_not_exist_is_refused(admin: Console) -> None:
    refused = _save(admin, default_group="ghosts")
    assert refused.status_code == 400
    assert "Not a valid choice" in text(refused)


def test_closed_sign_ups_refuse_everyone_without_an_invitation(app: Flask, admin: Console) -> None:
    assert _save(admin, signups="closed").status_code == 303
    visitor = Console(app.test_client())
    page = visitor.get("/signup")
    assert page.status_code == 403 and "Sign-ups are closed" in text(page)
    assert "/signup" not in text(visitor.get("/login"))  # no link to a page that refuses
    assert _signup(visitor, "sneaky@example.com").status_code == 403
    assert not User.select().where(User.email == "sneaky@example.com").exists()


def test_invite_only_sign_ups_take_an_invitation_and_nothing_else(app: Flask, admin: Console) -> None:
    assert _save(admin, signups="invite", welcome_credit="1").status_code == 303
    visitor = Console(app.test_client())
    refused = visitor.get("/signup")
    assert refused.status_code == 403 and "by invitation only" in text(refused)
    assert _signup(visitor, "walkin@example.com").status_code == 403
    assert visitor.get("/signup?invite=made-up").status_code == 403

    guest = create_user("guest@example.com")  # as the Users page's invite makes it
    token = issue_reset(guest.id).token
    page = visitor.get(f"/signup?invite={token}")
    assert page.status_code == 200 and "You were invited as" in text(page)
    done = _signup(visitor, "guest@example.com", f"/signup?invite={token}")
    assert done.status_code == 303
    assert User.get_by_id(guest.id).balance == 1_000_000_000
    assert visitor.post("/logout").status_code in (302, 303)
    assert visitor.post("/login", {"email": "guest@example.com", "password": PASSWORD}).status_code == 303
    again = Console(app.test_client())
    assert again.get(f"/signup?invite={token}").status_code == 403  # used once


def _png(side: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_a_logo_is_checked_served_and_removed(app: Flask, admin: Console) -> None:
    token = admin.csrf()
    bad = admin.client.post(
        "/operator/settings/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "is not a PNG, JPEG, GIF or WebP image" in text(bad)
    assert Console(app.test_client()).get("/logo").status_code == 404
    good = admin.client.post(
        "/operator/settings/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(_png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 303
    page = text(Console(app.test_client()).get("/login"))
    src = re.search(r'<img src="(/logo\?v=[0-9a-f]+)"', page)
    assert src, "the header shows no logo"
    served = Console(app.test_client()).get(src.group(1))
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == _png()
    assert admin.post("/operator/settings/logo/remove").status_code == 303
    assert Console(app.test_client()).get("/logo").status_code == 404


@pytest.fixture
def sink():  # type: ignore[no-untyped-def]
    with SmtpSink() as server:
        yield server


def _smtp(admin: Console, port: int) -> None:
    saved = admin.post(
        "/operator/settings/smtp",
        {"smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_user": "tollgate",
         "smtp_password": "sink-password", "smtp_from": "billing@acme.example", "smtp_tls": "none"},
    )  # fmt: skip
    assert saved.status_code == 303


def test_the_test_mail_goes_through_the_saved_server(admin: Console, sink: SmtpSink) -> None:
    _save(admin, product_name="Acme AI")
    _smtp(admin, sink.port)
    page = admin.post("/operator/settings/test-mail", {"to": "me@example.com"}, htmx=True)
    assert page.status_code == 200 and "accepted the test mail to me@example.com" in text(page)
    mail = sink.wait_for_mail()
    assert mail["To"] == "me@example.com" and mail["Subject"] == "Acme AI: test mail"
    assert "Acme AI" in mail["From"] and "billing@acme.example" in mail["From"]
    assert "sink-password" not in text(admin.get("/operator/settings"))  # never shown back


def test_a_test_mail_to_a_dead_server_says_why(admin: Console) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    _smtp(admin, port)  # nothing listens there
    page = admin.post("/operator/settings/test-mail", {"to": "me@example.com"})
    assert page.status_code == 502
    assert f"could not be sent through 127.0.0.1:{port}" in text(page)


def test_notices_are_queued_as_each_customer_chose_and_sent_by_the_worker(
    app: Flask, admin: Console, settings: Settings, sink: SmtpSink
) -> None:
    _smtp(admin, sink.port)
    buyer_user = create_user("buyer@example.com", PASSWORD)
    quiet_user = create_user("quiet@example.com", PASSWORD)
    buyer, quiet = Console(app.test_client()), Console(app.test_client())
    buyer.login_as(buyer_user)
    quiet.login_as(quiet_user)
    assert "Email notices" in text(quiet.get("/account/password"))
    off = quiet.post("/account/notices", {"deposit_credited": "y", "low_balance": "y"})
    assert off.status_code == 303  # key_created left unticked
    for console in (buyer, quiet):
        assert console.post("/keys", {"name": "laptop"}).status_code in (200, 303)
    queued = list(outbox.OutgoingMail.select())
    assert [m.to_address for m in queued] == ["buyer@example.com"]
    sent = jobs.deliver_mail(settings)
    assert sent.sent == 1
    mail = sink.wait_for_mail()
    assert mail["To"] == "buyer@example.com" and "a new API key was created" in mail["Subject"]
    assert "laptop" in mail.get_payload(decode=True).decode()
    assert jobs.deliver_mail(settings).sent == 0  # each mail leaves once


def test_a_bad_threshold_is_refused_on_the_account_page(app: Flask, customer: User) -> None:
    buyer = Console(app.test_client())
    buyer.login_as(customer)
    refused = buyer.post("/account/notices", {"low_balance": "y", "low_balance_threshold": "-5"})
    assert refused.status_code == 400 and "Must not be negative" in text(refused)
