"""Public pages: docs snippets filled in with the chosen model, and status read from the real data plane."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from console import create_app
from console.status import duration
from dataplane.app import create_app as create_dataplane
from shared.accounts import create_key
from shared.billing import adjust
from shared.catalog import add_model_route, add_provider
from shared.heartbeat import record_heartbeat
from shared.models import User, utcnow
from shared.settings import Settings
from shared.tron import config as tron_config
from shared.tron.state import ScannerState, save_state
from tests.console.conftest import Console, text
from tests.support.servers import ServerThread
from tests.tron.conftest import XPUB

VI = {"Accept-Language": "vi-VN,vi;q=0.9"}


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


def _status_console(settings: Settings, gateway_url: str) -> Flask:
    return create_app(dataclasses.replace(settings, public_base_url=gateway_url))


def _configure_tron(settings: Settings, state: ScannerState) -> None:
    tron_config.update({"node_url": "http://127.0.0.1:9/", "xpub": XPUB}, settings.secret_key)
    save_state(tron_config.load(settings.secret_key).network, state)


def test_status_page_tells_visitors_what_is_up_and_nothing_of_the_internals(settings: Settings) -> None:
    add_provider("hidden-provider", "http://127.0.0.1:9/v1", "secret-upstream-key", settings.secret_key)
    add_model_route("acme/chat-1", "hidden-provider", 1, 1, upstream_model="chat-up")
    record_heartbeat()
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        web = Console(_status_console(settings, gateway.url).test_client())
        body = text(web.get("/status"))
        panel = text(web.get("/status", headers={"HX-Request": "true"}))
    assert "All systems answering" in body
    assert re.search(r"<th>API</th>\s*<td><span class=\"badge ok\">up</span>", body)
    assert re.search(r"<th>Background jobs</th>\s*<td><span class=\"badge ok\">up</span>", body)
    assert re.search(r"<th>USDT deposits</th>\s*<td><span class=\"badge \">off</span>", body)
    assert re.search(r"Version \d", body)
    # The footer shows the public API URL; the address the console asks, and the rest, stay inside.
    for internal in ("hidden-provider", "chat-up", "secret-upstream-key", "/api/status", "Up for", "scanner"):
        assert internal not in body
    assert "<html" not in panel and "All systems answering" in panel


def test_status_page_says_when_the_gateway_is_down_without_a_traceback(settings: Settings) -> None:
    web = Console(_status_console(settings, "http://127.0.0.1:9").test_client())
    response = web.get("/status")
    body = text(response)
    assert response.status_code == 200
    assert "Something is down" in body and "not answering" in body
    assert "Traceback" not in body and "ConnectError" not in body  # the reason is for operators


def test_status_page_shows_operators_the_data_plane_worker_and_scanner(
    settings: Settings, operator: User
) -> None:
    now = utcnow()
    state = ScannerState(cursor=1_000, head_seen=1_040, solid_seen=1_020, failures=3, total_failures=7,
                         last_ok=(now - dt.timedelta(minutes=12)).isoformat(), last_run=now.isoformat(),
                         last_error="node answered 503")  # fmt: skip
    _configure_tron(settings, state)
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        web = Console(_status_console(settings, gateway.url).test_client())
        web.login_as(operator)
        body = text(web.get("/status"))
    assert re.search(r"<th>USDT deposits</th>\s*<td><span class=\"badge warn\">delayed</span>", body)
    assert "crediting is delayed" in body
    assert re.search(r'data-testid="uptime">\d+ s<', body)  # seconds for people, not "uptime s"
    assert gateway.url + "/api/status" in body
    scanner = body[body.index('data-testid="scanner"') :]
    assert "failing" in scanner and "3 runs in a row" in scanner
    assert "12 min ago" in scanner[scanner.index('data-testid="last-ok"') :][:200]
    assert "20 solid blocks to read" in scanner
    assert "node answered 503" in scanner and "7 failed runs in all" in scanner
    worker = body[body.index('data-testid="worker"') :]
    assert "not running" in worker and "never" in worker


def test_status_page_shows_a_beating_worker(settings: Settings, operator: User) -> None:
    record_heartbeat()
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        web = Console(_status_console(settings, gateway.url).test_client())
        web.login_as(operator)
        body = text(web.get("/status"))

    worker = body[body.index('data-testid="worker"') :][:600]
    assert "alive" in worker and "s ago)" in worker


def _status_with_a_route(settings: Settings, viewer: User) -> str:
    """The status page as `viewer` sees it, with one provider and route on a real data plane."""
    add_provider("up", "http://127.0.0.1:9/v1", "secret-upstream-key", settings.secret_key)
    add_model_route("acme/chat-1", "up", 1, 1, upstream_model="chat-up")
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        web = Console(_status_console(settings, gateway.url).test_client())
        web.login_as(viewer)
        return text(web.get("/status"))


def test_status_page_shows_provider_and_route_health(settings: Settings, operator: User) -> None:
    body = _status_with_a_route(settings, operator)
    assert "Provider and route health" in body
    assert "up (openai)" in body and "acme/chat-1 → chat-up" in body
    assert 'class="state state-ok">ok<' in body
    assert "1 of 1 available" in body
    assert "secret-upstream-key" not in body


def test_customers_see_the_public_status_only(settings: Settings, customer: User) -> None:
    body = _status_with_a_route(settings, customer)
    assert "<th>API</th>" in body
    assert "Provider and route health" not in body and "chat-up" not in body and "Data plane" not in body


def test_status_page_shows_operators_a_cooling_provider_and_visitors_nothing_of_it(
    settings: Settings, operator: User, customer: User
) -> None:
    add_provider("flaky-provider", "http://127.0.0.1:9/v1", "k", settings.secret_key)  # nothing listens
    add_model_route("acme/chat-1", "flaky-provider", 1, 1, upstream_model="chat-up")
    adjust(customer.id, 1_000_000_000, "top-up")
    _, secret = create_key(customer)
    dataplane = create_dataplane(dataclasses.replace(settings, provider_failure_threshold=1))
    with ServerThread(dataplane, log_level="critical") as gateway:
        chat = {"model": "acme/chat-1", "messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": f"Bearer {secret}"}
        refused = httpx.post(f"{gateway.url}/v1/chat/completions", headers=auth, json=chat)
        app = _status_console(settings, gateway.url)
        public = text(Console(app.test_client()).get("/status"))
        web = Console(app.test_client())
        web.login_as(operator)
        body = text(web.get("/status"))
    assert refused.status_code >= 500
    assert re.search(r"<th>API</th>\s*<td><span class=\"badge warn\">degraded</span>", public)
    for internal in ("flaky-provider", "chat-up", "cannot connect", "cooling down"):
        assert internal not in public
    table = body[body.index('data-testid="provider-health"') :]
    provider = table[table.index("flaky-provider (openai)") :][:1500]
    assert 'class="state state-down">down<' in provider  # a connect error cools the whole provider
    assert re.search(r'data-testid="cooling-until">until \d\d:\d\d:\d\d UTC \(cannot connect\)<', provider)
    assert re.search(r'<td class="num">1</td>\s*<td class="num">1</td>\s*<td class="num">1</td>', provider)
    assert re.search(r"cannot connect at \d\d:\d\d:\d\d UTC", provider)


def test_status_page_in_vietnamese(settings: Settings, operator: User) -> None:
    with ServerThread(create_dataplane(settings), log_level="critical") as gateway:
        app = _status_console(settings, gateway.url)
        public = text(Console(app.test_client()).get("/status", headers=VI))
        web = Console(app.test_client())
        web.login_as(operator)
        body = text(web.get("/status", headers=VI))
    assert "<h1>Trạng thái</h1>" in public and "Tác vụ nền" in public and "Background jobs" not in public
    assert "Phiên bản" in public and "tự làm mới mỗi 10 giây" in public
    assert re.search(r'data-testid="uptime">\d+ giây<', body)
    assert "Bộ quét nạp tiền" in body and "Chưa cấu hình nạp USDT." in body


@pytest.mark.parametrize(
    ("seconds", "english", "vietnamese"),
    [(45, "45 s", "45 giây"), (720, "12 min", "12 phút"), (11_520, "3 h 12 min", "3 giờ 12 phút"),
     (187_200, "2 d 4 h", "2 ngày 4 giờ")],
)  # fmt: skip
def test_durations_read_in_the_pages_language(
    app: Flask, seconds: int, english: str, vietnamese: str
) -> None:
    with app.test_request_context("/status"):
        assert duration(seconds) == english
    with app.test_request_context("/status", headers=VI):
        assert duration(seconds) == vietnamese


def _unready_dataplane() -> Starlette:
    """A stand-in data plane that lost its database: /api/status and /api/ready answer 503."""

    async def status(request: Request) -> JSONResponse:
        report = {"status": "degraded", "version": "9.9.9", "uptime_s": 75, "database": {"reachable": False}}
        return JSONResponse(report, 503)

    async def ready(request: Request) -> JSONResponse:
        checks = {"database": False, "settlements": False, "catalogue": True}
        return JSONResponse(
            {"status": "not ready", "checks": checks, "failing": ["database", "settlements"]}, 503
        )

    return Starlette(routes=[Route("/api/status", status), Route("/api/ready", ready)])


def test_status_page_names_the_readiness_checks_that_fail(settings: Settings, operator: User) -> None:
    with ServerThread(_unready_dataplane(), log_level="critical") as gateway:
        web = Console(_status_console(settings, gateway.url).test_client())
        public = text(web.get("/status"))
        web.login_as(operator)
        body = text(web.get("/status"))
    assert "requests are refused until it is back" in public and "settlements" not in public
    ready = body[body.index('data-testid="ready"') :][:400]
    assert "not ready" in ready and "failing checks: database, settlements" in ready
