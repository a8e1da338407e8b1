"""The Docs page's setup wizard: every tool's steps carry the gateway's base URL and the chosen model,
the model tags switch every snippet (by link and by htmx fragment), the configs parse, and the tags
offer only models the tool can use; "Test my key" makes a one-token call through a real data plane
to a fake provider (both on loopback ports) and shows the reply and the charge the data plane wrote."""

from __future__ import annotations

import ast
import dataclasses
import html
import json
import logging
import re
import tomllib
from collections.abc import Iterator

import pytest
import yaml
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from console import create_app
from console.agent_setups import SETUPS
from console.filters import usd
from dataplane.app import create_app as create_dataplane
from shared.accounts import create_key
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.models import UsageRecord, User
from shared.settings import Settings
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

CODE_RE = re.compile(r'<code id="(tool-[a-z0-9-]+)">(.*?)</code>', re.S)
TAG_RE = re.compile(r'data-model="([^"]+)"')


@pytest.fixture
def catalogue(settings: Settings) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/chat-1", "up", 3_000_000_000, 9_000_000_000, capabilities=["tools", "vision"])
    add_model_route("acme/chat-2", "up", 1_000_000_000, 2_000_000_000, context_length=64_000)
    add_model_route("acme/no-tools", "up", 1_000_000_000, 1_000_000_000, capabilities=["vision"])
    add_model_route("acme/embed", "up", 1_000_000_000, 0, modality="embedding")


def snippets(body: str) -> dict[str, str]:
    """The wizard's code blocks by id, as the Copy button copies them."""
    return {name: html.unescape(code) for name, code in CODE_RE.findall(body)}


def wizard(web: Console, tool: str, model: str) -> dict[str, str]:
    response = web.get(f"/docs?tool={tool}&model={model}")
    assert response.status_code == 200
    return snippets(text(response))


@pytest.mark.parametrize("setup", SETUPS, ids=[s.name for s in SETUPS])
def test_every_tool_gets_the_base_url_and_the_chosen_model(
    web: Console, settings: Settings, catalogue: None, setup
) -> None:
    base = settings.public_base_url
    for model in ("acme/chat-1", "acme/chat-2"):
        code = "\n".join(wizard(web, setup.name, model).values())
        assert code, f"{setup.name} shows no snippet"
        assert base in code and model in code, (setup.name, model)
        other = "acme/chat-2" if model == "acme/chat-1" else "acme/chat-1"
        if setup.name != "claude-code":  # its small, fast model is the cheapest one, chat-2
            assert other not in code, (setup.name, model)


def test_claude_code_uses_the_root_url_and_the_cheapest_model_for_background_work(
    web: Console, settings: Settings, catalogue: None
) -> None:
    code = wizard(web, "claude-code", "acme/chat-1")
    env = code["tool-claude-code-env"]
    assert f"export ANTHROPIC_BASE_URL={settings.public_base_url}\n" in env  # no /v1: the SDK adds it
    assert "export ANTHROPIC_MODEL=acme/chat-1" in env
    assert "export ANTHROPIC_DEFAULT_HAIKU_MODEL=acme/chat-2" in env
    # Subagents ask for the opus and sonnet aliases: they go to the chosen model, not to a 404.
    assert "export ANTHROPIC_DEFAULT_OPUS_MODEL=acme/chat-1" in env
    assert "export ANTHROPIC_DEFAULT_SONNET_MODEL=acme/chat-1" in env
    assert "export ANTHROPIC_AUTH_TOKEN=sk-tg-..." in env
    settings_json = json.loads(code["tool-claude-code-settings"])["env"]
    assert settings_json["ANTHROPIC_BASE_URL"] == settings.public_base_url
    assert settings_json["ANTHROPIC_MODEL"] == "acme/chat-1"


def test_the_machine_readable_configs_parse(web: Console, settings: Settings, catalogue: None) -> None:
    api = settings.public_base_url + "/v1"

    codex_files = wizard(web, "codex", "acme/chat-2")
    codex = tomllib.loads(codex_files["tool-codex-config"])
    assert codex["model_providers"]["tollgate"] == {
        "name": "Tollgate", "base_url": api, "env_key": "TOLLGATE_API_KEY", "wire_api": "responses",
    }  # fmt: skip
    # Codex 0.134 and later read a profile from its own file, keys at the top level.
    profile = tomllib.loads(codex_files["tool-codex-profile"])
    assert profile == {"model": "acme/chat-2", "model_provider": "tollgate"}

    opencode = json.loads(wizard(web, "opencode", "acme/chat-2")["tool-opencode-config"])
    provider = opencode["provider"]["tollgate"]
    assert provider["npm"] == "@ai-sdk/openai-compatible" and provider["options"]["baseURL"] == api
    assert list(provider["models"]) == ["acme/chat-2"] and opencode["model"] == "tollgate/acme/chat-2"

    zed = json.loads(wizard(web, "zed", "acme/chat-2")["tool-zed-settings"])
    tollgate = zed["language_models"]["openai_compatible"]["Tollgate"]
    assert tollgate["api_url"] == api
    assert tollgate["available_models"] == [
        {"name": "acme/chat-2", "display_name": "acme/chat-2", "max_tokens": 64_000,  # its context length
         "capabilities": {"tools": True, "images": False}}  # none stated: Zed's defaults
    ]  # fmt: skip
    seeing = json.loads(wizard(web, "zed", "acme/chat-1")["tool-zed-settings"])
    [model] = seeing["language_models"]["openai_compatible"]["Tollgate"]["available_models"]
    assert model["capabilities"] == {"tools": True, "images": True} and model["max_tokens"] == 128_000

    continue_config = yaml.safe_load(wizard(web, "continue", "acme/chat-2")["tool-continue-config"])
    [model] = continue_config["models"]
    assert (model["provider"], model["model"], model["apiBase"]) == ("openai", "acme/chat-2", api)

    aider = yaml.safe_load(wizard(web, "aider", "acme/chat-2")["tool-aider-config"])
    assert aider == {"openai-api-base": api, "openai-api-key": "sk-tg-...", "model": "openai/acme/chat-2"}


def test_the_python_snippets_are_python(web: Console, catalogue: None) -> None:
    for tool in ("openai-python", "anthropic-python", "langchain"):
        [code] = wizard(web, tool, "acme/chat-1").values()
        ast.parse(code)


def test_tags_offer_only_the_models_a_tool_can_use(web: Console, catalogue: None) -> None:
    agent = text(web.get("/docs?tool=claude-code"))
    # Chat models only, and Claude Code drives its work with tool calls: not a model stated without them.
    assert TAG_RE.findall(agent) == ["acme/chat-1", "acme/chat-2"]
    assert TAG_RE.findall(text(web.get("/docs?tool=cursor"))) == [
        "acme/chat-1",
        "acme/chat-2",
        "acme/no-tools",
    ]
    # An embedding model asked for by link falls back to the tool's first model.
    code = wizard(web, "claude-code", "acme/embed")
    assert "ANTHROPIC_MODEL=acme/chat-1" in code["tool-claude-code-env"]
    assert "acme/embed" not in "\n".join(code.values())


def test_the_tags_switch_every_snippet_and_htmx_gets_only_the_body(web: Console, catalogue: None) -> None:
    page = text(web.get("/docs?tool=langchain&model=acme/chat-2"))
    assert '<a class="chip active" href="/docs?tool=langchain&amp;model=acme/chat-2#setup"' in page
    assert 'model="acme/chat-2",\n    messages' in page  # the quick-start sections follow the tag too
    fragment = web.get("/docs?tool=langchain&model=acme/chat-1", headers={"HX-Request": "true"})
    body = text(fragment)
    assert "<html" not in body and "HX-Request" in fragment.headers["Vary"]
    assert 'model="acme/chat-1"' in snippets(body)["tool-langchain-code"]
    assert 'model="acme/chat-1",\n    messages' in body and 'acme/chat-2", messages' not in body
    assert 'name="tool" value="langchain"' in body  # the model menu keeps the tool


def test_an_unknown_tool_shows_the_first_one(web: Console, catalogue: None) -> None:
    assert "tool-claude-code-env" in snippets(text(web.get("/docs?tool=nonsense")))


def test_a_tool_with_no_usable_model_says_so(web: Console, settings: Settings, customer: User) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/embed", "up", 1, 0, modality="embedding")
    body = text(web.get("/docs?tool=codex"))
    assert "No model you may use works with Codex CLI yet" in body
    assert 'model = "MODEL_ID"' in snippets(body)["tool-codex-profile"]
    web.login_as(customer)
    body = text(web.get("/docs?tool=codex"))  # nothing to test a key with: no form that would only 404
    assert 'action="/docs/test-key"' not in body and "you can test a key with it here" in body


def test_a_signed_in_customer_sees_their_key_prefix(web: Console, customer: User, catalogue: None) -> None:
    key, secret = create_key(customer, name="laptop")
    web.login_as(customer)
    code = wizard(web, "aider", "acme/chat-1")["tool-aider-run"]
    assert f"export OPENAI_API_KEY={key.prefix.rstrip('…')}...\n" in code
    assert secret not in code


# "Test my key": a real data plane in front of a fake provider, the console pointed at the data plane.

PROBED = "acme/probe"
COST_RE = re.compile(r'data-testid="key-test-cost">([^<]+)<')
REQUEST_RE = re.compile(r"request <code>([^<]+)</code>")


@dataclasses.dataclass
class Gateway:
    """The console's test client, the data plane's URL and the fake provider behind it."""

    web: Console
    url: str
    upstream: FakeUpstream


@pytest.fixture
def gateway(settings: Settings) -> Iterator[Gateway]:
    upstream = FakeUpstream("probe")
    with ServerThread(upstream.app(), log_level="critical", graceful_s=1.0) as provider:
        add_provider("fake", provider.url + "/v1", "sk-upstream", settings.secret_key)
        add_model_route(PROBED, "fake", 1_000_000_000, 2_000_000_000, upstream_model="up-chat",
                        capabilities=["tools"])  # fmt: skip
        with ServerThread(create_dataplane(settings), log_level="critical", graceful_s=1.0) as plane:
            app = create_app(dataclasses.replace(settings, public_base_url=plane.url))
            app.config["TESTING"] = True
            yield Gateway(Console(app.test_client()), plane.url, upstream)
            upstream.reset()  # ends any latency still running, so the data plane can stop


def key_for(customer: User, balance: int = 1_000_000_000) -> str:
    if balance:
        adjust(customer.id, balance, "test top-up")
    return create_key(customer, name="probe")[1]


def press_test(gateway: Gateway, tool: str, key: str) -> str:
    """Press "Test my key" as htmx does; the result fragment."""
    response = gateway.web.post("/docs/test-key", {"tool": tool, "model": PROBED, "key": key}, htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    return body


@pytest.mark.parametrize(
    ("tool", "path", "cap"),
    [("curl", "/v1/chat/completions", "max_tokens"), ("claude-code", "/v1/chat/completions", "max_tokens"),
     ("codex", "/v1/responses", "max_output_tokens")],  # 16: the least OpenAI's Responses API takes
)  # fmt: skip
def test_a_working_key_shows_the_reply_the_tokens_and_the_charge_the_data_plane_wrote(
    gateway: Gateway, customer: User, tool: str, path: str, cap: str
) -> None:
    secret = key_for(customer)
    gateway.web.login_as(customer)
    gateway.upstream.default = Reply(text="OK", usage=(12, 1))

    body = press_test(gateway, tool, secret)

    assert "The key works." in body and '<q data-testid="key-test-reply">OK</q>' in body
    assert "12 in, 1 out" in body
    [request_id] = REQUEST_RE.findall(body)
    record = UsageRecord.get(UsageRecord.request_id == request_id)
    assert record.charge == 12 * 1_000 + 1 * 2_000  # 12 × $1/M + 1 × $2/M
    assert COST_RE.findall(body) == [usd(record.charge, exact=True)] == ["$0.000014"]
    [call] = gateway.upstream.requests
    # One token asked for, on the API the tool speaks (Anthropic Messages is translated for this provider).
    assert (
        call.path == path
        and call.body["model"] == "up-chat"
        and call.body[cap] == (16 if tool == "codex" else 1)
    )
    assert secret not in body


def test_a_reply_with_no_text_says_why(gateway: Gateway, customer: User) -> None:
    secret = key_for(customer)
    gateway.web.login_as(customer)
    gateway.upstream.default = Reply(text="", usage=(12, 1))
    body = press_test(gateway, "openai-python", secret)
    assert "The key works." in body and "answered with no text" in body and "key-test-reply" not in body


def test_a_wrong_key_shows_the_401_and_what_to_do(gateway: Gateway, customer: User) -> None:
    gateway.web.login_as(customer)
    body = press_test(gateway, "cursor", "sk-tg-not-a-real-key")
    assert "HTTP 401:" in body and "The gateway does not accept this key" in body
    assert "Copy it again from the API keys page." in body and "The gateway said:" in body
    assert gateway.upstream.requests == []


def test_an_empty_balance_shows_the_402_and_where_to_top_up(gateway: Gateway, customer: User) -> None:
    secret = key_for(customer, balance=0)
    gateway.web.login_as(customer)
    body = press_test(gateway, "claude-code", secret)
    assert "HTTP 402:" in body and "Your balance cannot cover this call. Top up on the Billing page." in body
    assert gateway.upstream.requests == []  # refused before any provider call
    assert UsageRecord.select().count() == 0


def test_a_gateway_that_does_not_answer_in_time_says_so(gateway: Gateway, customer: User) -> None:
    secret = key_for(customer)
    gateway.web.login_as(customer)
    gateway.web.client.application.config["KEY_TEST_TIMEOUT_S"] = 0.5
    gateway.upstream.default = Reply(latency_s=60)  # ended by the fixture's reset
    body = press_test(gateway, "curl", secret)
    assert "The gateway did not answer within 0.5 s. Try again." in body


def test_an_unreachable_gateway_says_where_it_looked(app, customer: User, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    app.config["TOLLGATE"] = dataclasses.replace(settings, public_base_url="http://127.0.0.1:9")
    web = Console(app.test_client())
    web.login_as(customer)
    response = web.post("/docs/test-key", {"tool": "curl", "model": "m", "key": "sk-tg-x"}, htmx=True)
    assert "Could not reach the gateway at http://127.0.0.1:9." in text(response)


def test_a_base_url_that_is_not_the_gateway_says_so(app, customer: User, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    # A web server that answers every path with a page, as a site in front of the gateway might.
    website = Starlette(
        routes=[Route("/{path:path}", lambda _: HTMLResponse("<h1>Welcome</h1>"), methods=["POST"])]
    )
    with ServerThread(website, log_level="critical") as site:
        app.config["TOLLGATE"] = dataclasses.replace(settings, public_base_url=site.url)
        web = Console(app.test_client())
        web.login_as(customer)
        response = web.post("/docs/test-key", {"tool": "curl", "model": "m", "key": "sk-tg-x"}, htmx=True)
    body = text(response)
    assert f"{site.url} did not answer as the gateway&#39;s API does." in body
    assert "TOLLGATE_PUBLIC_BASE_URL" in body and "The key works." not in body


@pytest.mark.parametrize(
    ("key", "message"),
    [("", "Paste a key first."), ("sk-tg-a b", "That does not look like an API key"),
     ("sk-tg-é", "That does not look like an API key"), ("k" * 201, "That does not look like an API key")],
)  # fmt: skip
def test_a_malformed_key_is_refused_before_any_call(
    gateway: Gateway, customer: User, key: str, message: str
) -> None:
    gateway.web.login_as(customer)
    assert message in press_test(gateway, "curl", key)
    assert gateway.upstream.requests == []


def test_the_key_is_not_stored_logged_or_sent_back(
    gateway: Gateway, customer: User, caplog: pytest.LogCaptureFixture
) -> None:
    secret = key_for(customer)
    gateway.web.login_as(customer)
    caplog.set_level(logging.DEBUG)
    # Without htmx the whole page comes back, with the result in it, and the key field empty.
    response = gateway.web.post("/docs/test-key", {"tool": "aider", "model": PROBED, "key": secret})
    page = text(response)
    assert response.status_code == 200 and "The key works." in page and "<html" in page
    assert secret not in page and secret not in caplog.text
    with gateway.web.client.session_transaction() as session:
        assert secret not in json.dumps(dict(session), default=str)


def test_testing_a_key_needs_sign_in_and_the_csrf_token(gateway: Gateway, customer: User) -> None:
    form = {"tool": "curl", "model": PROBED, "key": key_for(customer)}
    stranger = gateway.web.post("/docs/test-key", form)
    assert stranger.status_code == 302 and "/login" in stranger.headers["Location"]
    gateway.web.login_as(customer)
    forged = gateway.web.client.post("/docs/test-key", data=form, headers={"HX-Request": "true"})
    assert forged.status_code == 400
    assert gateway.upstream.requests == []


def test_the_docs_page_offers_the_test_to_signed_in_customers_only(
    web: Console, customer: User, catalogue: None
) -> None:
    assert 'action="/docs/test-key"' not in text(web.get("/docs?tool=codex"))
    web.login_as(customer)
    page = text(web.get("/docs?tool=codex&model=acme/chat-2"))
    assert 'action="/docs/test-key"' in page and 'name="model" value="acme/chat-2"' in page
    assert "/v1/responses" in page and "<code>max_output_tokens</code> 16" in page  # the call Codex makes
