"""Operator pages: users, providers (write-only key, live test), prices, groups, revenue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playhouse.test_utils import assert_query_count

from shared.accounts import create_key, create_user, get_or_create_group
from shared.billing import Settlement, post_entry, settle
from shared.catalog import add_model_route, add_provider
from shared.config_version import read_config_version
from shared.models import CatalogModel, Group, LedgerEntry, Provider, Route, User
from shared.settings import Settings
from shared.vault import decrypt
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply


@pytest.fixture(scope="module")
def fake_provider() -> Iterator[tuple[FakeUpstream, str]]:
    """A fake OpenAI-compatible provider on a loopback port; yields it and its base URL."""
    fake = FakeUpstream("console")
    with ServerThread(fake.app(), log_level="critical", graceful_s=1.0) as server:
        yield fake, server.url + "/v1"
    fake.reset()


def test_users_list_search_and_detail(
    web: Console, operator: User, customer: User, other_customer: User
) -> None:
    create_key(customer, name="alice-key")
    web.login_as(operator)
    listing = text(web.get("/operator/users?q=ALICE"))
    assert customer.email in listing and other_customer.email not in listing
    detail = text(web.get(f"/operator/users/{customer.id}"))
    assert "alice-key" in detail and "Adjust balance" in detail
    assert web.get("/operator/users/9999").status_code == 404


def test_adjust_balance_needs_a_reason_and_writes_the_ledger(
    web: Console, operator: User, customer: User
) -> None:
    web.login_as(operator)
    missing = web.post(f"/operator/users/{customer.id}/adjust", {"amount": "12.5", "reason": ""})
    assert missing.status_code == 200 and "This field is required" in text(missing)
    bad = web.post(f"/operator/users/{customer.id}/adjust", {"amount": "12.5.1", "reason": "x"})
    assert "Enter an amount in USD" in text(bad)
    overdraw = web.post(f"/operator/users/{customer.id}/adjust", {"amount": "-1", "reason": "oops"})
    assert "too small" in text(overdraw)
    assert LedgerEntry.select().count() == 0 and User.get_by_id(customer.id).balance == 0
    ok = web.post(f"/operator/users/{customer.id}/adjust", {"amount": "12.5", "reason": "welcome credit"})
    assert ok.status_code == 303
    entry = LedgerEntry.get()
    assert (entry.amount, entry.kind, entry.reason, entry.actor_id) == (
        12_500_000_000, "adjustment", "welcome credit", operator.id
    )  # fmt: skip
    assert User.get_by_id(customer.id).balance == 12_500_000_000
    assert "$12.50" in text(web.get(f"/operator/users/{customer.id}"))


def test_change_group_and_disable(web: Console, operator: User, customer: User) -> None:
    vip = Group.create(name="vip", multiplier_ppm=800_000)
    web.login_as(operator)
    assert web.post(f"/operator/users/{customer.id}/group", {"group": str(vip.id)}).status_code == 303
    assert User.get_by_id(customer.id).group_id == vip.id
    web.post(f"/operator/users/{customer.id}/group", {"group": "9999"})
    assert User.get_by_id(customer.id).group_id == vip.id
    web.post(f"/operator/users/{customer.id}/status")
    assert User.get_by_id(customer.id).status == "disabled"
    web.post(f"/operator/users/{operator.id}/status")
    assert User.get_by_id(operator.id).status == "active"


def test_providers_add_edit_delete_with_write_only_key(
    web: Console, operator: User, settings: Settings
) -> None:
    web.login_as(operator)
    bad = web.post(
        "/operator/providers",
        {"name": "bad name!", "kind": "openai", "base_url": "ftp://x", "timeout_s": "60"},
    )
    assert "use letters, digits" in text(bad) and Provider.select().count() == 0
    form = {"name": "main", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
            "api_key": "sk-upstream-123456", "timeout_s": "30", "enabled": "y"}  # fmt: skip
    assert web.post("/operator/providers", form).status_code == 303
    provider = Provider.get()
    assert decrypt(provider.api_key_encrypted, settings.secret_key) == "sk-upstream-123456"
    assert "sk-upstream-123456" not in provider.api_key_encrypted
    page = text(web.get("/operator/providers"))
    assert "…3456" in page and "sk-upstream-123456" not in page
    edit_page = text(web.get(f"/operator/providers/{provider.id}/edit"))
    assert "sk-upstream-123456" not in edit_page
    before = read_config_version()
    edited = {**form, "api_key": "", "base_url": "http://127.0.0.1:8/v1", "enabled": ""}
    assert web.post(f"/operator/providers/{provider.id}/edit", edited).status_code == 303
    provider = Provider.get_by_id(provider.id)
    assert provider.base_url == "http://127.0.0.1:8/v1" and not provider.enabled
    assert decrypt(provider.api_key_encrypted, settings.secret_key) == "sk-upstream-123456"
    assert read_config_version() > before
    add_model_route("m1", "main", 1, 1)
    assert web.post(f"/operator/providers/{provider.id}/delete").status_code == 303
    assert Provider.select().count() == 0 and Route.select().count() == 0


def test_provider_test_button_sends_a_real_request(
    web: Console, operator: User, settings: Settings, fake_provider: tuple[FakeUpstream, str]
) -> None:
    fake, base_url = fake_provider
    fake.reset()
    provider = add_provider("fake", base_url, "sk-fake-upstream", settings.secret_key)
    web.login_as(operator)
    # No route yet: the probe reads the model list, which this fake has not.
    none = web.post(f"/operator/providers/{provider.id}/test", htmx=True)
    assert "FAILED" in text(none) and "HTTP 404" in text(none)
    add_model_route("public/model", "fake", 1, 1, upstream_model="upstream-model")
    ok = web.post(f"/operator/providers/{provider.id}/test", htmx=True)
    assert "OK" in text(ok) and "HTTP 200" in text(ok)
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-fake-upstream"
    assert sent.body["model"] == "upstream-model" and sent.body["max_tokens"] == 1
    fake.script(Reply(status=401, error={"error": {"message": "bad key", "type": "auth"}}))
    failed = web.post(f"/operator/providers/{provider.id}/test", htmx=True)
    assert "FAILED" in text(failed) and "HTTP 401" in text(failed) and "bad key" in text(failed)
    plain = web.post(f"/operator/providers/{provider.id}/test")
    assert plain.status_code == 303
    fake.reset()


def _model(settings: Settings) -> CatalogModel:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("gpt-test", "up", 1_000_000_000, 2_000_000_000, costs=(600_000_000, 1_500_000_000, None))
    return CatalogModel.get()


def test_price_table_inline_edit(web: Console, operator: User, settings: Settings) -> None:
    model = _model(settings)
    web.login_as(operator)
    page = text(web.get("/operator/models"))
    assert "$0.60" in page and "$0.40" in page and "$0.50" in page  # cost, input margin, output margin
    row = web.get(f"/operator/models/{model.id}/edit", headers={"HX-Request": "true"})
    assert "<html" not in text(row) and 'name="input_price"' in text(row) and 'value="1"' in text(row)
    before = read_config_version()
    form = {
        "input_price": "1.25",
        "output_price": "3",
        "cached_input_price": "",
        "modality": "chat",
        "enabled": "y",
    }
    saved = web.post(f"/operator/models/{model.id}", form, htmx=True)
    assert "<html" not in text(saved) and "$1.25" in text(saved) and 'name="input_price"' not in text(saved)
    model = CatalogModel.get_by_id(model.id)
    assert (model.input_price, model.output_price, model.enabled) == (1_250_000_000, 3_000_000_000, True)
    assert read_config_version() > before
    invalid = web.post(f"/operator/models/{model.id}", {**form, "output_price": "-2"}, htmx=True)
    assert "Must not be negative" in text(invalid) and 'name="input_price"' in text(invalid)
    assert CatalogModel.get_by_id(model.id).output_price == 3_000_000_000
    no_js = web.get(f"/operator/models/{model.id}/edit")
    assert "<html" in text(no_js) and 'name="output_price"' in text(no_js)
    disabled = web.post(f"/operator/models/{model.id}", {**form, "enabled": ""})
    assert disabled.status_code == 303 and not CatalogModel.get_by_id(model.id).enabled


def test_add_model_and_route(web: Console, operator: User, settings: Settings) -> None:
    provider = add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    web.login_as(operator)
    form = {"slug": "new/model", "provider": str(provider.id), "upstream_model": "up-model",
            "modality": "chat", "input_price": "0.15", "output_price": "0.6", "input_cost": "0.1",
            "output_cost": "", "priority": "0", "weight": "1"}  # fmt: skip
    bad = web.post("/operator/models", {**form, "slug": "bad slug!"})
    assert "not a valid model id" in text(bad) and CatalogModel.select().count() == 0
    assert web.post("/operator/models", form).status_code == 303
    route = Route.select(Route, CatalogModel).join(CatalogModel).get()
    assert route.model.slug == "new/model" and route.upstream_model == "up-model"
    assert (route.model.input_price, route.input_cost, route.output_cost) == (
        150_000_000,
        100_000_000,
        600_000_000,
    )
    assert web.post(f"/operator/models/routes/{route.id}/toggle", {"enabled": "0"}).status_code == 303
    assert not Route.get_by_id(route.id).enabled


def test_groups_create_and_edit(web: Console, operator: User, settings: Settings) -> None:
    _model(settings)
    web.login_as(operator)
    bad = web.post("/operator/groups", {"name": "vip", "multiplier": "abc"})
    assert "Enter a number" in text(bad)
    unknown = web.post("/operator/groups", {"name": "vip", "multiplier": "1.2", "allowed_models": "nope"})
    assert "Unknown models: nope" in text(unknown) and not Group.select().where(Group.name == "vip").exists()
    ok = web.post("/operator/groups", {"name": "vip", "multiplier": "0.8", "allowed_models": "gpt-test"})
    assert ok.status_code == 303
    vip = Group.get(Group.name == "vip")
    assert (vip.multiplier_ppm, vip.allowed_models) == (800_000, ["gpt-test"])
    assert "×0.8" in text(web.get("/operator/groups"))
    assert "0.8" in text(web.get(f"/operator/groups/{vip.id}"))
    web.post(f"/operator/groups/{vip.id}", {"name": "vip", "multiplier": "1.5", "allowed_models": ""})
    vip = Group.get_by_id(vip.id)
    assert (vip.multiplier_ppm, vip.allowed_models) == (1_500_000, None)


def test_group_prices_and_access_show_on_models_page(
    web: Console, customer: User, settings: Settings
) -> None:
    _model(settings)
    add_model_route("hidden-model", "up", 1, 1)
    vip = Group.create(name="vip", multiplier_ppm=1_500_000, allowed_models=["gpt-test"])
    User.update(group=vip.id).where(User.id == customer.id).execute()
    public = text(web.get("/models"))
    assert "hidden-model" in public and "$1.00" in public
    web.login_as(customer)
    mine = text(web.get("/models"))
    assert "hidden-model" not in mine and "$1.50" in mine and "$3.00" in mine
    assert "hidden-model" not in text(web.get("/models?q=hidden"))
    assert "gpt-test" in text(web.get("/models?q=gpt", headers={"HX-Request": "true"}))


def test_revenue_totals_and_margin(
    web: Console, operator: User, customer: User, other_customer: User
) -> None:
    get_or_create_group()
    for user in (customer, other_customer):
        post_entry(user.id, 1_000_000, "deposit", f"dep:{user.id}")
    for user, model, provider in (
        (customer, "m-a", "p1"),
        (customer, "m-b", "p2"),
        (other_customer, "m-a", "p1"),
    ):
        settle([Settlement(request_id=uuid.uuid4().hex, user_id=user.id, hold_id=None, api_key_id=None,
                           model=model, provider=provider, charge=3_000, cost=1_000)])  # fmt: skip
    web.login_as(operator)
    page = text(web.get("/operator/usage?by=model"))
    assert "$0.000009" in page and "$0.000006" in page  # revenue, margin
    assert "m-a" in page and "m-b" in page and customer.email in page
    by_customer = text(web.get(f"/operator/usage?by=customer&customer={other_customer.email}"))
    assert other_customer.email in by_customer and "$0.000003" in by_customer
    assert '<strong data-testid="revenue">$0.000003</strong>' in by_customer
    assert customer.email not in by_customer
    export = text(web.get("/operator/usage/export.csv"))
    assert export.count("\n") == 4 and customer.email in export


def test_revenue_shows_what_was_not_collected_and_the_unsettled_requests(
    web: Console, operator: User, customer: User
) -> None:
    get_or_create_group()
    post_entry(customer.id, 1_000, "deposit", "dep:small")
    short, cut = (
        Settlement(request_id=uuid.uuid4().hex, user_id=customer.id, hold_id=None, api_key_id=None,
                   model="m-a", charge=5_000, **extra)
        for extra in ({}, {"status": "unsettled", "error": "the data-plane process stopped mid-request"})
    )  # fmt: skip
    settle([short, cut])
    assert (short.charge, short.shortfall) == (1_000, 4_000)  # all the balance had
    web.login_as(operator)
    page = web.get("/operator/usage").get_data(as_text=True)
    assert (
        '<strong data-testid="shortfall" class="neg">$0.000009</strong>' in page
    )  # 4,000 + 5,000 uncollected
    assert '<strong data-testid="unsettled">1</strong>' in page
    unsettled = web.get("/operator/usage?status=unsettled").get_data(as_text=True)
    assert unsettled.count('data-testid="charge"') == 1 and "stopped mid-request" in unsettled


def test_users_list_is_one_query_whatever_the_rows(web: Console, operator: User) -> None:
    web.login_as(operator)
    web.get("/operator/users")
    with assert_query_count(3):  # the session user, the page of users with their groups, their holds
        web.get("/operator/users")
    for i in range(30):
        create_user(f"user{i}@example.com")
    with assert_query_count(3):
        body = text(web.get("/operator/users"))
    assert "user29@example.com" in body
