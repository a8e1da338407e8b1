"""Public pages: docs snippets filled in with the chosen model, and status read from the real data plane."""

from __future__ import annotations

import dataclasses

from console import create_app
from dataplane.app import create_app as create_dataplane
from shared.catalog import add_model_route, add_provider
from shared.heartbeat import record_heartbeat
from shared.settings import Settings
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread


def test_docs_fill_in_the_base_url_and_model(web: Console, settings: Settings) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "k", settings.secret_key)
    add_model_route("acme/chat-1", "up", 1, 1)
    add_model_route("acme/chat-2", "up", 1, 1)
    add_model_route("acme/embed", "up", 1, 0, modality="embedding")
    body = text(web.get("/docs?model=acme/chat-2"))
    assert f"{settings.public_base_url}/v1/chat/completions" in body
    assert 'model="acme/chat-2"' in body and '"model": "acme/chat-2"' in body
    assert 'model="acme/embed"' in body  # the embeddings example uses an embedding model
    for status in ("401", "402", "403", "404", "429", "5xx"):
        assert status in body
    assert "ANTHROPIC_BASE_URL" in body and "OPENAI_BASE_URL" in body
    assert 'model="acme/chat-1"' in text(web.get("/docs?model=unknown"))


def test_status_page_reads_the_data_plane(settings: Settings) -> None:
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        app = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
        web = Console(app.test_client())
        body = text(web.get("/status"))
        assert "Gateway is up" in body and "version" in body and "uptime" in body and "database" in body
        assert "<th>worker</th><td>alive: no, last seen s ago: —</td>" in body
        panel = text(web.get("/status", headers={"HX-Request": "true"}))
        assert "<html" not in panel and "Gateway is up" in panel
    down = text(web.get("/status"))
    assert "Gateway is down" in down and "cannot reach the gateway" in down


def test_status_page_shows_a_beating_worker(settings: Settings) -> None:
    record_heartbeat()
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        app = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
        body = text(Console(app.test_client()).get("/status"))

    assert "<th>worker</th><td>alive: yes, last seen s ago: " in body


def test_status_page_shows_provider_and_route_health(settings: Settings) -> None:
    add_provider("up", "http://127.0.0.1:9/v1", "secret-upstream-key", settings.secret_key)
    add_model_route("acme/chat-1", "up", 1, 1, upstream_model="chat-up")
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        app = create_app(dataclasses.replace(settings, public_base_url=gateway.url))
        body = text(Console(app.test_client()).get("/status"))

    assert "Provider and route health" in body
    assert "up (openai)" in body and "acme/chat-1 → chat-up" in body
    assert 'class="state state-ok">ok<' in body
    assert "secret-upstream-key" not in body
