"""API keys in the console: created with the secret shown once, edited, revoked, never another's."""

from __future__ import annotations

import re

from shared.accounts import create_key
from shared.catalog import add_model_route, add_provider
from shared.keys import hash_key
from shared.models import ApiKey, User
from shared.settings import Settings
from tests.console.conftest import Console, text


def _catalog(settings: Settings) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "sk-up", settings.secret_key)
    add_model_route("gpt-test", "up", 1_000_000_000, 2_000_000_000)


def test_create_shows_the_secret_once_and_stores_only_its_hash(web: Console, customer: User) -> None:
    web.login_as(customer)
    response = web.post("/keys", {"name": "laptop", "spend_cap": "5.25", "expires_on": "2999-01-31"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(sk-tg-[^"]+)"', text(response)).group(1)
    key = ApiKey.get(ApiKey.user == customer.id)
    assert key.key_hash == hash_key(secret) and key.name == "laptop"
    assert key.spend_cap == 5_250_000_000 and key.expires_at.isoformat() == "2999-02-01T00:00:00"
    assert "Copy" in text(response)
    listing = text(web.get("/keys"))
    assert secret not in listing and key.prefix in listing and "laptop" in listing


def test_create_with_htmx_returns_the_panel(web: Console, customer: User) -> None:
    web.login_as(customer)
    response = web.post("/keys", {"name": "ci"}, htmx=True)
    body = text(response)
    assert "<html" not in body and 'data-testid="new-secret"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_bad_input_rerenders_with_field_errors(web: Console, customer: User, settings: Settings) -> None:
    _catalog(settings)
    web.login_as(customer)
    for form, message in (
        ({"spend_cap": "lots"}, "Enter an amount in USD"),
        ({"spend_cap": "-1"}, "Must not be negative"),
        ({"expires_on": "2001-01-01"}, "must be in the future"),
        ({"models": "gpt-test, no-such-model"}, "Not a model you can use: no-such-model"),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters"),
    ):
        response = web.post("/keys", form)
        assert response.status_code == 200 and message in text(response), form
    assert ApiKey.select().count() == 0
    assert web.post("/keys", {"models": "gpt-test"}).status_code == 200
    assert ApiKey.get().allowed_models == ["gpt-test"]


def test_edit_and_revoke_own_key(web: Console, customer: User, settings: Settings) -> None:
    _catalog(settings)
    key, _ = create_key(customer, name="old")
    web.login_as(customer)
    assert "old" in text(web.get(f"/keys/{key.id}/edit"))
    refused = web.post(f"/keys/{key.id}/edit", {"name": "new", "models": "gpt-test, no-such-model"})
    assert refused.status_code == 200 and "Not a model you can use: no-such-model" in text(refused)
    assert (ApiKey.get_by_id(key.id).name, ApiKey.get_by_id(key.id).allowed_models) == ("old", None)
    saved = web.post(f"/keys/{key.id}/edit", {"name": "new", "models": "gpt-test", "spend_cap": "0.000001"})
    assert saved.status_code == 303
    key = ApiKey.get_by_id(key.id)
    assert (key.name, key.allowed_models, key.spend_cap) == ("new", ["gpt-test"], 1000)
    row = web.post(f"/keys/{key.id}/revoke", htmx=True)
    assert "revoked" in text(row) and "<html" not in text(row)
    assert ApiKey.get_by_id(key.id).revoked_at is not None
    assert web.get(f"/keys/{key.id}/edit").status_code == 404


def test_cannot_touch_another_customers_key(web: Console, customer: User, other_customer: User) -> None:
    theirs, _ = create_key(other_customer, name="bobs")
    web.login_as(customer)
    assert web.get(f"/keys/{theirs.id}/edit").status_code == 404
    assert web.post(f"/keys/{theirs.id}/edit", {"name": "pwned"}).status_code == 404
    assert web.post(f"/keys/{theirs.id}/revoke").status_code == 404
    after = ApiKey.get_by_id(theirs.id)
    assert after.name == "bobs" and after.revoked_at is None
    assert "bobs" not in text(web.get("/keys"))
