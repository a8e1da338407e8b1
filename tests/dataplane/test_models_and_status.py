"""Model listing and lookup (ids with "/"), the public catalog, and /api/status."""

from __future__ import annotations

import httpx
import openai
import pytest

from shared import accounts
from shared.heartbeat import record_heartbeat
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop, eventually
from tests.support.servers import ServerThread


def test_models_list_and_retrieve_ids_with_slashes(gateway: ServerThread, alice: Customer) -> None:
    client = alice.client(gateway.url)

    ids = [m.id for m in client.models.list()]
    model = client.models.retrieve(CHAT_MODEL)

    assert ids == [CHAT_MODEL, EMBED_MODEL]
    assert (model.id, model.object, model.owned_by) == (CHAT_MODEL, "model", "acme")
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("acme/missing")
    assert caught.value.code == "model_not_found"


def test_models_list_honours_key_allow_list(stocked: Shop, start_gateway: object) -> None:
    limited = stocked.customer(1_000_000, models=[EMBED_MODEL])
    gateway = start_gateway()  # type: ignore[operator]
    client = limited.client(gateway.url)

    assert [m.id for m in client.models.list()] == [EMBED_MODEL]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(CHAT_MODEL)


def test_models_under_api_prefix_are_public_and_filterable(gateway: ServerThread) -> None:
    everything = httpx.get(f"{gateway.url}/api/v1/models").json()
    embeddings = httpx.get(f"{gateway.url}/api/v1/models", params={"modality": "embedding"}).json()
    one = httpx.get(f"{gateway.url}/api/v1/models/acme%2Fchat-1")

    assert [m["id"] for m in everything["data"]] == [CHAT_MODEL, EMBED_MODEL]
    assert everything["data"][0]["pricing"] == {
        "input_per_1m": "1.000000000",
        "cached_input_per_1m": "1.000000000",
        "output_per_1m": "2.000000000",
    }
    assert [m["id"] for m in embeddings["data"]] == [EMBED_MODEL]
    assert one.status_code == 200 and one.json()["id"] == CHAT_MODEL
    assert httpx.get(f"{gateway.url}/v1/models").status_code == 401


def test_status_is_public_and_reports_health(gateway: ServerThread) -> None:
    response = httpx.get(f"{gateway.url}/api/status")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["database"]["reachable"] is True
    assert body["providers"] == {"total": 1, "available": 1, "cooling_down": [], "routes_cooling_down": 0}
    assert body["version"] and body["uptime_s"] >= 0
    assert response.headers["x-request-id"].startswith("req_")


def test_status_reports_whether_the_worker_is_beating(gateway: ServerThread) -> None:
    before = httpx.get(f"{gateway.url}/api/status").json()
    record_heartbeat()

    def alive_worker() -> dict | None:
        worker = httpx.get(f"{gateway.url}/api/status").json()["worker"]
        return worker if worker["alive"] else None

    worker = eventually(alive_worker, what="the data plane to see the worker's heartbeat")

    assert before["worker"] == {"alive": False, "last_seen_s_ago": None}
    assert worker["last_seen_s_ago"] <= 5


def test_disabled_group_models_are_hidden(stocked: Shop, start_gateway: object) -> None:
    group = accounts.get_or_create_group("embed-only")
    group.allowed_models = [EMBED_MODEL]
    group.save()
    customer = stocked.customer(1_000_000, group="embed-only")
    gateway = start_gateway()  # type: ignore[operator]

    assert [m.id for m in customer.client(gateway.url).models.list()] == [EMBED_MODEL]
