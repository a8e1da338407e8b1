"""TOLLGATE_LOG_FORMAT=json: a real data-plane process logs one JSON object per line, one per request."""

from __future__ import annotations

import json

import httpx

from shared.settings import Settings
from tests.dataplane.helpers import CHAT_MODEL, Shop
from tests.support.processes import DataPlaneProcess
from tests.support.upstream import FakeUpstream, Reply

HELLO = [{"role": "user", "content": "hello"}]


def test_json_logs_carry_each_request_with_its_id_and_never_the_key(
    stocked: Shop, upstream: FakeUpstream, settings: Settings
) -> None:
    customer = stocked.customer(10_000_000_000)
    upstream.default = Reply(usage=(10, 5))
    process = DataPlaneProcess(settings, TOLLGATE_LOG_FORMAT="json").start()
    try:
        headers = {"Authorization": f"Bearer {customer.secret}"}
        body = {"model": CHAT_MODEL, "messages": HELLO}
        ok = httpx.post(f"{process.url}/v1/chat/completions", json=body, headers=headers, timeout=15)
        mine = httpx.post(
            f"{process.url}/v1/chat/completions",
            json=body,
            headers={**headers, "X-Request-Id": "client-42"},
            timeout=15,
        )
        refused = httpx.post(
            f"{process.url}/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-tg-nope"}
        )
    finally:
        log = process.stop()
    assert (ok.status_code, mine.status_code, refused.status_code) == (200, 200, 401)
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is an object
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    requests = {line["request_id"]: line for line in lines if line["logger"] == "tollgate.dataplane.access"}

    first = requests[ok.headers["x-request-id"]]
    assert first["request_id"] == ok.headers["request-id"]
    assert (first["method"], first["path"], first["status"]) == ("POST", "/v1/chat/completions", 200)
    assert first["model"] == CHAT_MODEL and first["key_id"] == customer.key_id
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    assert first["level"] == "info" and "client_request_id" not in first

    echoed = requests[mine.headers["request-id"]]
    assert mine.headers["x-request-id"] == "client-42" and echoed["client_request_id"] == "client-42"
    assert echoed["key_id"] == customer.key_id

    unknown = requests[refused.headers["request-id"]]
    assert unknown["status"] == 401 and unknown["key_id"] is None
    assert customer.secret not in log and "sk-tg-nope" not in log
    # uvicorn's own lines (start-up, shutdown) are objects too
    assert any(line["logger"].startswith("uvicorn") for line in lines)


def test_text_logs_stay_as_they_were(stocked: Shop, upstream: FakeUpstream, settings: Settings) -> None:
    customer = stocked.customer(10_000_000_000)
    upstream.default = Reply(usage=(10, 5))
    process = DataPlaneProcess(settings).start()
    try:
        customer.client(process.url).chat.completions.create(model=CHAT_MODEL, messages=HELLO)
    finally:
        log = process.stop()
    assert "tollgate.dataplane.access" not in log
    assert not log.lstrip().startswith("{")
