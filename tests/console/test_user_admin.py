"""Operator user admin: invite by link, revoke a customer's key, a confirm before each destructive act."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from flask import Flask

from shared.accounts import create_key
from shared.catalog import add_model_route, add_provider
from shared.models import ApiKey, User, utcnow
from shared.password_resets import PasswordReset
from shared.settings import Settings
from tests.console.conftest import Console, text

INVITE_RE = re.compile(r'value="([^"]+)"[^>]*data-testid="invite-link"')
PASSWORD = "a long new password"


def test_an_invited_user_sets_a_password_through_the_link_and_signs_in(
    app: Flask, web: Console, operator: User
) -> None:
    web.login_as(operator)

    page = web.post("/operator/users/invite", {"email": "New.Buyer@Example.com", "role": "customer"})
    match = INVITE_RE.search(text(page))
    assert page.status_code == 200 and match and "Invited new.buyer@example.com" in text(page)
    user = User.get(User.email == "new.buyer@example.com")
    assert user.password_hash is None and user.role == "customer"
    stored = PasswordReset.get(PasswordReset.user == user.id)
    assert stored.expires_at - utcnow() > dt.timedelta(days=6)

    invitee = Console(app.test_client())
    path = urlsplit(match.group(1)).path
    assert invitee.post(path, {"password": PASSWORD, "confirm": PASSWORD}).status_code == 303
    signed_in = invitee.post("/login", {"email": "new.buyer@example.com", "password": PASSWORD})
    assert signed_in.status_code == 303


def test_inviting_a_registered_email_says_so(web: Console, operator: User, customer: User) -> None:
    web.login_as(operator)

    page = web.post("/operator/users/invite", {"email": customer.email, "role": "customer"})

    assert page.status_code == 200 and "is already registered" in text(page)
    assert User.select().count() == 2 and PasswordReset.select().count() == 0


def test_operator_revokes_a_customers_key_from_the_users_page(
    web: Console, operator: User, customer: User, other_customer: User
) -> None:
    key, _ = create_key(customer, name="laptop")
    others, _ = create_key(other_customer, name="bobs")
    web.login_as(operator)
    page = text(web.get(f"/operator/users/{customer.id}"))
    assert 'data-confirm="Revoke laptop? Requests using it will fail."' in page

    done = web.post(f"/operator/users/{customer.id}/keys/{key.id}/revoke", follow_redirects=True)
    wrong_owner = web.post(f"/operator/users/{customer.id}/keys/{others.id}/revoke")

    assert "Revoked key laptop of alice@example.com" in text(done)
    assert ApiKey.get_by_id(key.id).revoked_at is not None
    assert wrong_owner.status_code == 404 and ApiKey.get_by_id(others.id).revoked_at is None


def test_destructive_actions_ask_first(
    web: Console, operator: User, customer: User, settings: Settings
) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/chat", "up", 1, 1, upstream_model="chat")
    web.login_as(operator)

    user_page = text(web.get(f"/operator/users/{customer.id}"))
    prices = text(web.get("/operator/models"))
    providers = text(web.get("/operator/providers"))

    assert f'data-confirm="Disable {customer.email}? Their keys stop working' in user_page
    assert (
        'data-confirm="Delete the route of acme/chat through up? Without a route the model is unavailable."'
        in prices
    )
    assert 'data-confirm="Disable the route of acme/chat through up?"' in prices
    assert 'data-confirm="Delete up and all its routes?"' in providers
