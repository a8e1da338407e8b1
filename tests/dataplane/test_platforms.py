"""Regional catalogues: a key sees and calls only its platform's models, `X-Platform` is checked
against the key (or chooses the public catalogue), and existing keys and models keep working after
migration 0010.

The flows a customer meets run on SQLite and PostgreSQL; the header's protocol checks and the
public documents read only the in-memory snapshot and run on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest

from shared import accounts, catalog, migrations
from shared.catalog_admin import set_model_platforms
from shared.db import db
from shared.models import ApiKey, CatalogModel, User
from tests.dataplane.helpers import Customer, Shop, eventually
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream

EVERYWHERE = "acme/world-1"
INTL_ONLY = "acme/intl-1"
CN_ONLY = "acme/cn-1"
HELLO = [{"role": "user", "content": "Hello"}]
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def regions(shop: Shop, upstream: FakeUpstream) -> Shop:
    """One model on every platform, one only on intl, one only on cn."""
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    for slug in (EVERYWHERE, INTL_ONLY, CN_ONLY):
        shop.model(slug, "alpha", upstream_model="up-chat")
    set_model_platforms(catalog.get_model(INTL_ONLY), ["intl"])
    set_model_platforms(catalog.get_model(CN_ONLY), ["cn"])
    return shop


@pytest.fixture
def cn_buyer(regions: Shop) -> Customer:
    return regions.customer(10_000_000_000, platform="cn")


@pytest.fixture
def intl_buyer(regions: Shop) -> Customer:
    return regions.customer(10_000_000_000)


@pytest.fixture
def gateway(
    cn_buyer: Customer, intl_buyer: Customer, start_gateway: Callable[..., ServerThread]
) -> ServerThread:
    return start_gateway()


def _not_found(call: Callable[[], object]) -> openai.NotFoundError:
    with pytest.raises(openai.NotFoundError) as caught:
        call()
    return caught.value


def _chat(client: openai.OpenAI, model: str, **kwargs: object) -> str:
    reply = client.chat.completions.create(model=model, messages=HELLO, max_tokens=16, **kwargs)  # type: ignore[call-overload]
    return reply.choices[0].message.content


def test_a_cn_key_sees_and_calls_only_cn_models(gateway: ServerThread, cn_buyer: Customer) -> None:
    client = cn_buyer.client(gateway.url)

    assert sorted(m.id for m in client.models.list()) == [CN_ONLY, EVERYWHERE]
    assert _chat(client, CN_ONLY) and _chat(client, EVERYWHERE)
    hidden = _not_found(lambda: _chat(client, INTL_ONLY))
    missing = _not_found(lambda: _chat(client, "acme/nothing-1"))
    assert hidden.code == missing.code == "model_not_found"
    # Word for word the answer for a model that does not exist: nothing says it is sold elsewhere.
    assert hidden.message.replace(INTL_ONLY, "X") == missing.message.replace("acme/nothing-1", "X")
    assert _not_found(lambda: client.models.retrieve(INTL_ONLY)).code == "model_not_found"


def test_an_intl_key_gets_404_in_anthropics_shape_for_a_cn_model(
    gateway: ServerThread, intl_buyer: Customer
) -> None:
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=intl_buyer.secret, max_retries=0, timeout=15)

    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model=CN_ONLY, max_tokens=16, messages=HELLO)  # type: ignore[arg-type]

    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert claude.messages.create(model=INTL_ONLY, max_tokens=16, messages=HELLO).content  # type: ignore[arg-type]


def test_limiting_a_model_takes_effect_within_a_config_poll(
    gateway: ServerThread, intl_buyer: Customer
) -> None:
    client = intl_buyer.client(gateway.url)
    assert _chat(client, EVERYWHERE)

    set_model_platforms(catalog.get_model(EVERYWHERE), ["cn"])

    def refused() -> bool:
        try:
            _chat(client, EVERYWHERE)
        except openai.NotFoundError:
            return True
        return False

    eventually(refused, timeout=3.0, what="the intl key to lose the cn-only model")
    assert sorted(m.id for m in client.models.list()) == [INTL_ONLY]


@sqlite_only
def test_the_header_may_repeat_the_keys_platform_and_nothing_else(
    gateway: ServerThread, cn_buyer: Customer
) -> None:
    client = cn_buyer.client(gateway.url)
    assert _chat(client, CN_ONLY, extra_headers={"X-Platform": "cn"})

    with pytest.raises(openai.BadRequestError) as mismatch:
        _chat(client, CN_ONLY, extra_headers={"X-Platform": "intl"})
    with pytest.raises(openai.BadRequestError) as unknown:
        client.models.list(extra_headers={"X-Platform": "eu"})

    assert (mismatch.value.code, mismatch.value.param) == ("platform_mismatch", "X-Platform")
    assert "cn platform" in mismatch.value.message
    assert (unknown.value.code, unknown.value.param) == ("invalid_platform", "X-Platform")
    assert "intl, cn" in unknown.value.message


@sqlite_only
def test_a_mismatch_on_the_messages_route_is_a_400_in_anthropics_shape(
    gateway: ServerThread, cn_buyer: Customer
) -> None:
    claude = anthropic.Anthropic(
        base_url=gateway.url, api_key=cn_buyer.secret, max_retries=0, default_headers={"X-Platform": "intl"}
    )

    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=CN_ONLY, max_tokens=16, messages=HELLO)  # type: ignore[arg-type]

    error = caught.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("X-Platform:")


def _public(gateway: ServerThread, path: str, platform: str | None = None) -> httpx.Response:
    headers = {} if platform is None else {"X-Platform": platform}
    return httpx.get(gateway.url + path, headers=headers)


@sqlite_only
def test_the_public_catalogue_shows_the_platform_the_header_names(gateway: ServerThread) -> None:
    def ids(platform: str | None) -> list[str]:
        return [m["id"] for m in _public(gateway, "/api/v1/models", platform).json()["data"]]

    assert ids(None) == ids("intl") == [INTL_ONLY, EVERYWHERE]
    assert ids("cn") == [CN_ONLY, EVERYWHERE]
    assert _public(gateway, "/api/v1/models").headers["vary"] == "X-Platform"
    assert _public(gateway, f"/api/v1/models/{CN_ONLY}").status_code == 404
    detail = _public(gateway, f"/api/v1/models/{CN_ONLY}", "cn").json()
    assert detail["platforms"] == ["cn"]
    assert _public(gateway, f"/api/v1/models/{EVERYWHERE}", "cn").json()["platforms"] == ["intl", "cn"]


@sqlite_only
@pytest.mark.parametrize(
    "path", ["/api/v1/models", f"/api/v1/models/{EVERYWHERE}", "/llms.txt", "/llms-full.txt"]
)
def test_an_unknown_platform_is_a_400_on_every_public_route(gateway: ServerThread, path: str) -> None:
    response = _public(gateway, path, "mars")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_platform", "X-Platform")
    assert "'mars'" in error["message"]


@sqlite_only
def test_agent_documents_follow_the_header(gateway: ServerThread) -> None:
    intl = _public(gateway, "/llms-full.txt").text
    china = _public(gateway, "/llms-full.txt", "cn").text

    assert f"### {INTL_ONLY}" in intl and f"### {CN_ONLY}" not in intl
    assert f"### {CN_ONLY}" in china and f"### {INTL_ONLY}" not in china
    assert "2 enabled on the cn platform" in _public(gateway, "/llms.txt", "CN").text
    assert "X-Platform" in _public(gateway, "/llms.txt").text


@sqlite_only
def test_openapi_documents_the_header_and_lists_the_platforms_models(gateway: ServerThread) -> None:
    document = _public(gateway, "/openapi.json", "cn").json()

    header = document["components"]["parameters"]["Platform"]
    assert (header["name"], header["in"], header["schema"]["enum"]) == (
        "X-Platform",
        "header",
        ["intl", "cn"],
    )
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert {"$ref": "#/components/parameters/Platform"} in chat["parameters"]
    enum = chat["requestBody"]["content"]["application/json"]["schema"]["properties"]["model"]["enum"]
    assert enum == [CN_ONLY, EVERYWHERE]


def test_keys_and_models_from_before_the_migration_keep_working_everywhere(
    shop: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> None:
    shop.provider("alpha", upstream.url)  # type: ignore[attr-defined]
    shop.model(EVERYWHERE, "alpha", upstream_model="up-chat")
    old = shop.customer(10_000_000_000)
    migrations.runner().down("0010_platforms")
    assert "platform" not in {c.name for c in db.obj.get_columns("api_key")}

    assert "0010_platforms" in migrations.upgrade()

    assert ApiKey.get_by_id(old.key_id).platform == "intl"
    assert CatalogModel.get(CatalogModel.slug == EVERYWHERE).platforms is None
    new_key, secret = accounts.create_key(User.get_by_id(old.user_id), platform="cn")
    gateway = start_gateway()
    for customer in (old, Customer(old.user_id, new_key.id, secret)):
        client = customer.client(gateway.url)
        assert [m.id for m in client.models.list()] == [EVERYWHERE]
        assert _chat(client, EVERYWHERE)
