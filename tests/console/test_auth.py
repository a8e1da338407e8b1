"""Sign-up, sign-in, throttling, sign-out, password change, first-operator setup, cookies and CSRF."""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import Flask, url_for

from console import create_app
from shared.accounts import create_key, create_user
from shared.catalog import add_model_route, add_provider
from shared.models import ApiKey, CatalogModel, Group, KeyValue, PriceChange, Route, User
from shared.passwords import verify_password
from shared.settings import Settings
from tests.cli.conftest import snapshot
from tests.console.conftest import Console, text

PASSWORD = "correct horse battery"


def test_signup_creates_a_customer_and_signs_in(web: Console) -> None:
    response = web.post("/signup", {"email": "New@Example.com", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/keys")
    user = User.get(User.email == "new@example.com")
    assert user.role == "customer" and user.password_hash != PASSWORD
    assert verify_password(user.password_hash, PASSWORD)
    assert "new@example.com" in text(web.get("/keys"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "confirm": PASSWORD}, "not a valid email"),
        ({"email": "x@example.com", "password": "short", "confirm": "short"}, "At least 8 characters"),
        (
            {"email": "x@example.com", "password": PASSWORD, "confirm": "other thing"},
            "Passwords do not match",
        ),
    ],
)
def test_signup_rerenders_with_field_errors(web: Console, form: dict, message: str) -> None:
    response = web.post("/signup", form)
    assert response.status_code == 200
    assert message in text(response)
    assert User.select().count() == 0


def test_signup_with_a_taken_email_says_so(web: Console, customer: User) -> None:
    response = web.post("/signup", {"email": customer.email, "password": PASSWORD, "confirm": PASSWORD})
    assert "already registered" in text(response)
    assert User.select().count() == 1


def test_login_and_logout(web: Console) -> None:
    create_user("carol@example.com", PASSWORD)
    wrong = web.post("/login", {"email": "carol@example.com", "password": "nope nope"})
    assert wrong.status_code == 401 and "Wrong email or password" in text(wrong)
    ok = web.post("/login?next=/usage", {"email": "CAROL@example.com", "password": PASSWORD})
    assert ok.status_code == 303 and ok.location.endswith("/usage")
    assert web.get("/").status_code == 200
    assert User.get(User.email == "carol@example.com").last_login_at is not None
    assert web.get("/logout").status_code == 405  # sign-out is a POST with a CSRF token
    assert web.post("/logout").status_code == 303
    assert web.get("/").status_code == 302


def test_login_ignores_an_offsite_next(web: Console) -> None:
    create_user("carol@example.com", PASSWORD)
    ok = web.post("/login?next=//evil.example/x", {"email": "carol@example.com", "password": PASSWORD})
    assert ok.location == "/"


def test_repeated_failures_lock_the_email(web: Console) -> None:
    create_user("dave@example.com", PASSWORD)
    for _ in range(5):
        assert web.post("/login", {"email": "dave@example.com", "password": "guess guess"}).status_code == 401
    locked = web.post("/login", {"email": "dave@example.com", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed attempts" in text(locked)
    assert web.get("/").status_code == 302  # still signed out


def test_disabled_user_cannot_sign_in_and_loses_sessions(web: Console, other_web: Console) -> None:
    user = create_user("erin@example.com", PASSWORD)
    assert web.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 303
    User.update(status="disabled").where(User.id == user.id).execute()
    assert web.get("/").status_code == 302
    refused = other_web.post("/login", {"email": user.email, "password": PASSWORD})
    assert refused.status_code == 403 and "disabled" in text(refused)


def test_password_change_checks_the_old_one_and_signs_out_other_sessions(
    web: Console, other_web: Console
) -> None:
    user = create_user("frank@example.com", PASSWORD)
    for browser in (web, other_web):
        assert browser.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 303
    bad = web.post(
        "/account/password",
        {"current": "wrong one", "password": "new password 1", "confirm": "new password 1"},
    )
    assert "not your current password" in text(bad)
    good = web.post(
        "/account/password", {"current": PASSWORD, "password": "new password 1", "confirm": "new password 1"}
    )
    assert good.status_code == 303
    assert verify_password(User.get_by_id(user.id).password_hash, "new password 1")
    assert web.get("/").status_code == 200  # this session continues
    assert other_web.get("/").status_code == 302  # the other one is signed out


def test_first_operator_setup_with_the_logged_token(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level("WARNING", logger="tollgate.console"):
        app = create_app(settings)
    token = re.search(r"one-time token: (\S+)", caplog.text).group(1)
    web = Console(app.test_client())
    wrong = web.post("/setup", {"token": "guess", "email": "root@example.com", "password": PASSWORD})
    assert "wrong setup token" in text(wrong) and not User.select().exists()
    ok = web.post("/setup", {"token": token, "email": "root@example.com", "password": PASSWORD})
    assert ok.status_code == 303
    assert User.get(User.email == "root@example.com").role == "operator"
    assert not KeyValue.select().where(KeyValue.key == "setup_token_sha256").exists()
    assert web.get("/operator/users").status_code == 200
    again = Console(app.test_client())
    assert again.get("/setup").status_code == 302  # the page is gone once an operator exists
    reuse = again.post("/setup", {"token": token, "email": "two@example.com", "password": PASSWORD})
    assert reuse.status_code == 302 and User.select().count() == 1


def test_session_cookie_flags(settings) -> None:  # type: ignore[no-untyped-def]
    create_user("gina@example.com", PASSWORD)
    for public, secure in (("http://console.local", False), ("https://console.example", True)):
        app = create_app(dataclasses.replace(settings, console_public_url=public))
        web = Console(app.test_client())
        response = web.post("/login", {"email": "gina@example.com", "password": PASSWORD})
        cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure


CSRF_REFUSAL = "Your form expired or was not sent from this site. Reload the page and try again."
CSRF_ALERT = f'<div class="flash error" role="alert">{CSRF_REFUSAL}</div>'  # the htmx fragment, whole


def test_forms_without_a_csrf_token_are_refused(web: Console, customer: User) -> None:
    web.login_as(customer)
    response = web.client.post("/keys", data={"name": "no token"})
    assert response.status_code == 400 and "form expired" in text(response)
    htmx_without = web.client.post("/keys", data={"name": "x"}, headers={"HX-Request": "true"})
    assert htmx_without.status_code == 400 and CSRF_REFUSAL in text(htmx_without)
    assert ApiKey.select().count() == 0
    assert web.post("/keys", {"name": "with header"}, htmx=True).status_code == 200
    assert [k.name for k in ApiKey.select()] == ["with header"]
    signed_out = Console(web.client.application.test_client())
    assert signed_out.client.post("/login", data={"email": "a@b.co", "password": "x" * 10}).status_code == 400


# Every field any console form has, filled so that a view which skipped its guard would act on it.
ANY_FORM = {
    "name": "pwned", "amount": "100", "reason": "free money", "group": "1", "multiplier": "0.1",
    "input_price": "0", "output_price": "0", "modality": "chat", "enabled": "", "txid": "ab" * 32,
    "email": "mallory@example.com", "password": PASSWORD, "confirm": PASSWORD, "current": PASSWORD,
    "token": "guess", "slug": "pwned/model", "provider": "1", "base_url": "http://127.0.0.1:9/v1",
    "kind": "openai", "timeout_s": "30", "network": "nile", "rate": "2", "min_deposit_micro": "1",
}  # fmt: skip
PUBLIC_URLS = {
    "/models",
    "/models/gpt-test",
    "/docs",
    "/login",
    "/signup",
    "/setup",
    "/status",
    "/logout",
    "/forgot",
    "/reset/no-such-token",
    "/logo",  # the sign-in page shows the operator's logo too
    "/language",  # anyone may pick the console's language
}


@pytest.fixture
def path_ids(settings: Settings, customer: User, other_customer: User, operator: User) -> dict[str, int]:
    """A real row for every path argument a console URL takes (the other customer's, where a user)."""
    provider = add_provider("up", "http://127.0.0.1:9/v1", "sk-up", settings.secret_key)
    add_model_route("gpt-test", "up", 1_000_000_000, 2_000_000_000)
    key, _ = create_key(customer, name="alice-key")
    held = PriceChange.create(model=CatalogModel.get(), prices={"input": 9}, source="test")  # approvable
    return {
        "user_id": other_customer.id,
        "group_id": Group.create(name="vip", multiplier_ppm=800_000).id,
        "model_id": CatalogModel.get().id,
        "route_id": Route.get().id,
        "provider_id": provider.id,
        "key_id": key.id,
        "token": "no-such-token",
        "slug": "gpt-test",
        "change_id": held.id,
        "decision": "approve",
    }


def console_routes(app: Flask, ids: dict[str, int]) -> list[tuple[str, str]]:
    """(method, URL) of every GET and POST the console serves, path arguments filled from `ids`."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint != "static":
                url = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
                found += [(method, url) for method in sorted(rule.methods & {"GET", "POST"})]
    return found


def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    web: Console, other_web: Console, app: Flask, operator: User, path_ids: dict[str, int]
) -> None:
    posts = [url for method, url in console_routes(app, path_ids) if method == "POST"]
    revoke, adjust = f"/keys/{path_ids['key_id']}/revoke", f"/operator/users/{path_ids['user_id']}/adjust"
    assert {"/logout", "/keys", revoke, "/billing/deposit/check", adjust, "/operator/deposits/config"} <= set(
        posts
    )
    web.login_as(operator)
    someone_elses_token = other_web.csrf()
    before = snapshot()
    for url in posts:
        plain = web.client.post(url, data=ANY_FORM)
        assert (plain.status_code, CSRF_REFUSAL in text(plain)) == (400, True), url
        htmx = web.client.post(url, data=ANY_FORM, headers={"HX-Request": "true"})
        assert (htmx.status_code, text(htmx)) == (400, CSRF_ALERT), url
        forged = web.client.post(
            url, data=ANY_FORM, headers={"HX-Request": "true", "X-CSRFToken": someone_elses_token}
        )
        assert (forged.status_code, CSRF_REFUSAL in text(forged)) == (400, True), url
    assert snapshot() == before
    assert web.get("/").status_code == 200  # the refused sign-out left the session signed in


CUSTOMER_PAGES = ["/", "/keys", "/usage", "/usage/export.csv", "/billing", "/account/password"]
OPERATOR_PAGES = [
    "/operator/users", "/operator/providers", "/operator/models", "/operator/groups", "/operator/usage",
    "/operator/usage/export.csv",
]  # fmt: skip
PUBLIC_PAGES = ["/models", "/docs", "/login", "/signup"]


def test_pages_need_sign_in(web: Console) -> None:
    for url in CUSTOMER_PAGES + OPERATOR_PAGES:
        response = web.get(url)
        assert response.status_code == 302 and "/login" in response.location, url
    for url in PUBLIC_PAGES:
        assert web.get(url).status_code == 200, url


def test_every_signed_in_url_sends_strangers_to_sign_in_and_changes_nothing(
    web: Console, app: Flask, path_ids: dict[str, int]
) -> None:
    private = [(m, url) for m, url in console_routes(app, path_ids) if url not in PUBLIC_URLS]
    revoke, disable = f"/keys/{path_ids['key_id']}/revoke", f"/operator/users/{path_ids['user_id']}/status"
    assert {("GET", "/billing/deposit"), ("POST", revoke), ("POST", disable)} <= set(private)
    before = snapshot()
    for method, url in private:
        response = web.get(url) if method == "GET" else web.post(url, ANY_FORM)
        assert response.status_code == 302 and response.location.startswith("/login?next="), (method, url)
    assert snapshot() == before


def test_every_operator_url_is_403_for_customers_and_changes_nothing(
    web: Console, app: Flask, customer: User, path_ids: dict[str, int]
) -> None:
    operator_urls = [(m, url) for m, url in console_routes(app, path_ids) if url.startswith("/operator/")]
    assert {
        ("GET", f"/operator/users/{path_ids['user_id']}"),
        ("POST", f"/operator/users/{path_ids['user_id']}/adjust"),
        ("POST", f"/operator/providers/{path_ids['provider_id']}/delete"),
        ("GET", f"/operator/models/{path_ids['model_id']}/edit"),
        ("POST", "/operator/deposits/reconcile"),
    } <= set(operator_urls)
    web.login_as(customer)
    before = snapshot()
    for method, url in operator_urls:
        response = web.get(url) if method == "GET" else web.post(url, ANY_FORM)
        assert response.status_code == 403, (method, url)
        assert "You do not have access to this page." in text(response), (method, url)
    assert snapshot() == before


def test_operator_pages_are_403_for_customers(web: Console, customer: User, operator: User) -> None:
    web.login_as(customer)
    for url in OPERATOR_PAGES:
        assert web.get(url).status_code == 403, url
    for url in ("/operator/users/1/adjust", "/operator/providers", "/operator/models/1", "/operator/groups"):
        assert web.post(url, {"amount": "100", "reason": "free money"}).status_code == 403, url
    assert User.get_by_id(customer.id).balance == 0
    web.login_as(operator)
    for url in OPERATOR_PAGES + CUSTOMER_PAGES:
        assert web.get(url).status_code == 200, url
