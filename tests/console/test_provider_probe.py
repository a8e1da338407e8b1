"""The provider test: a keyless provider passes, a provider with no route is still tested for real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.catalog import add_model_route, add_provider
from shared.models import User
from shared.settings import Settings
from tests.console.conftest import Console, text
from tests.support.keyless import MODELS, Keyless
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def keyless_server() -> Iterator[tuple[Keyless, str]]:
    """A provider that refuses any Authorization header; yields it and its base URL."""
    keyless = Keyless(FakeUpstream("keyless"))
    with ServerThread(keyless.app(), log_level="critical", graceful_s=1.0) as server:
        yield keyless, server.url + "/v1"


@pytest.fixture
def keyless(keyless_server: tuple[Keyless, str]) -> Iterator[tuple[Keyless, str]]:
    keyless, base_url = keyless_server
    keyless.fake.reset()
    keyless.rejected.clear()
    yield keyless, base_url
    keyless.fake.reset()


@pytest.mark.parametrize("key", ["", "   "], ids=["empty", "blank"])
def test_keyless_provider_passes_the_test_before_and_after_its_first_route(
    web: Console, operator: User, settings: Settings, keyless: tuple[Keyless, str], key: str
) -> None:
    server, base_url = keyless
    provider = add_provider("ollama", base_url, key, settings.secret_key, kind="openai-chat")
    web.login_as(operator)

    listed = text(web.post(f"/operator/providers/{provider.id}/test", htmx=True))
    add_model_route("local/llama", "ollama", 1, 1, upstream_model="llama3.2")
    called = text(web.post(f"/operator/providers/{provider.id}/test", htmx=True))

    assert server.rejected == []
    assert "OK" in listed and f"lists {len(MODELS)} models" in listed and "add a model route" in listed
    assert "OK" in called and "HTTP 200" in called and "llama3.2" in called
    sent = server.fake.requests[-1]
    assert sent.body["model"] == "llama3.2" and "authorization" not in sent.headers


def test_provider_with_a_key_is_turned_away_by_a_keyless_server(
    web: Console, operator: User, settings: Settings, keyless: tuple[Keyless, str]
) -> None:
    server, base_url = keyless
    provider = add_provider("ollama", base_url, "sk-stray", settings.secret_key, kind="openai-chat")
    web.login_as(operator)

    failed = text(web.post(f"/operator/providers/{provider.id}/test", htmx=True))

    assert "FAILED" in failed and "HTTP 401" in failed and "takes no API key" in failed
    assert server.rejected == ["Bearer sk-stray"]


def test_rerank_provider_with_no_route_is_not_tested_rather_than_failed(
    web: Console, operator: User, settings: Settings
) -> None:
    provider = add_provider("jina", "http://127.0.0.1:9/v1", "jk", settings.secret_key, kind="jina")
    web.login_as(operator)

    partial = text(web.post(f"/operator/providers/{provider.id}/test", htmx=True))
    plain = web.post(f"/operator/providers/{provider.id}/test", follow_redirects=True)

    assert "NOT TESTED" in partial and "FAILED" not in partial and "add a model route" in partial
    assert "not tested" in text(plain) and "FAILED" not in text(plain)


def test_providers_page_shows_progress_while_a_test_waits(
    web: Console, operator: User, settings: Settings
) -> None:
    add_provider("slow", "http://127.0.0.1:9/v1", "k", settings.secret_key, timeout_s=8)
    web.login_as(operator)

    page = text(web.get("/operator/providers"))

    assert "Testing… waiting up to 8 s for slow to answer" in page
    assert "The test got no answer in time" in page
