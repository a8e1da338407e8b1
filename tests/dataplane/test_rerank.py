"""`POST /v1/rerank` with httpx, on an OpenAI-compatible server (vLLM-style), Cohere's v2 API and Jina's.

Prices: `acme/rerank-1` (openai-chat provider) costs $1 per 1M input tokens (1,000 nano-USD a
token) plus $0.002 per request; `acme/rerank-cohere` $0.002 per request (a search unit) and
nothing per token; `acme/rerank-jina` $0.02 per 1M tokens (20 nano-USD a token) and nothing per
request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared import catalog
from shared.models import Provider
from shared.probe import probe
from tests.dataplane.helpers import Customer, Shop, charges, usage_for
from tests.support.fake_scoring import FakeScoring, Scored
from tests.support.servers import ServerThread

RERANK = "acme/rerank-1"
COHERE = "acme/rerank-cohere"
JINA = "acme/rerank-jina"
PER_REQUEST = 2_000_000  # $0.002
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
QUERY = "fruit"
DOCUMENTS: list[Any] = ["apples", "bananas", {"text": "cherries"}]
# Counted when the upstream reports no tokens: the query (2 tokens) read with each document (2 each).
COUNTED = 3 * (2 + 2)


@pytest.fixture
def ranked(shop: Shop, scoring: FakeScoring) -> Shop:
    """Three rerank providers on the fake scorer and a model on each."""
    key = shop.settings.secret_key
    catalog.add_provider("vllm", scoring.url + "/v1", "upstream-key-vllm", key, kind="openai-chat")  # type: ignore[attr-defined]
    catalog.add_provider("cohere", scoring.url + "/v2", "upstream-key-cohere", key, kind="cohere")  # type: ignore[attr-defined]
    catalog.add_provider("jina", scoring.url + "/v1", "upstream-key-jina", key, kind="jina")  # type: ignore[attr-defined]
    common: dict[str, Any] = {"modality": "rerank", "output_price": 0}
    shop.model(RERANK, "vllm", upstream_model="up-rerank", meters={"request": PER_REQUEST}, **common)
    shop.model(
        COHERE,
        "cohere",
        upstream_model="rerank-v3.5",
        input_price=0,
        meters={"request": PER_REQUEST},
        **common,
    )
    shop.model(JINA, "jina", upstream_model="jina-reranker-v2", input_price=20_000_000, **common)
    return shop


@pytest.fixture
def buyer(ranked: Shop) -> Customer:
    return ranked.customer(10_000_000_000)


@pytest.fixture
def ranker(ranked: Shop, buyer: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    return start_gateway()


def rerank(gateway: ServerThread, customer: Customer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/rerank",
        json=body,
        headers={"authorization": f"Bearer {customer.secret}"},
        timeout=15,
    )


def test_results_are_ordered_cut_at_top_n_with_documents_and_billed_by_reported_tokens(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    scoring.script(Scored(tokens=42))

    reply = rerank(
        ranker,
        buyer,
        {"model": RERANK, "query": QUERY, "documents": DOCUMENTS, "top_n": 2, "return_documents": True},
    )

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "id": "rerank-fake",
        "model": RERANK,
        "results": [
            {"index": 2, "relevance_score": 0.3, "document": {"text": "cherries"}},
            {"index": 1, "relevance_score": 0.2, "document": {"text": "bananas"}},
        ],
        "usage": {"total_tokens": 42},
    }
    sent = scoring.requests[-1]
    assert sent.path == "/v1/rerank"
    assert sent.headers["authorization"] == "Bearer upstream-key-vllm"
    assert sent.body == {
        "model": "up-rerank",
        "query": QUERY,
        "documents": ["apples", "bananas", "cherries"],
        "top_n": 2,
    }
    [record] = usage_for(1)
    assert (record.endpoint, record.prompt_tokens, record.usage_source) == ("rerank", 42, "upstream")
    assert record.charge == 42 * 1_000 + PER_REQUEST == 2_042_000
    assert record.meters == {"input": [42, 1_000_000_000], "request": [1, PER_REQUEST]}
    assert charges(buyer.user_id) == [2_042_000]


def test_without_reported_usage_one_request_and_counted_tokens_are_billed_and_documents_left_out(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    reply = rerank(ranker, buyer, {"model": RERANK, "query": QUERY, "documents": DOCUMENTS})

    assert reply.status_code == 200, reply.text
    assert reply.json()["results"] == [
        {"index": 2, "relevance_score": 0.3},
        {"index": 1, "relevance_score": 0.2},
        {"index": 0, "relevance_score": 0.1},
    ]
    assert reply.json()["usage"] == {"total_tokens": COUNTED}
    [record] = usage_for(1)
    assert record.charge == COUNTED * 1_000 + PER_REQUEST == 2_012_000
    assert record.usage_source == "counted"


def test_cohere_search_units_are_billed_as_requests(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    scoring.script(Scored(search_units=3, scores=[0.9, 0.05, 0.5]))

    reply = rerank(ranker, buyer, {"model": COHERE, "query": QUERY, "documents": DOCUMENTS, "top_n": 1})

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "id": "cohere-rerank-1",
        "model": COHERE,
        "results": [{"index": 0, "relevance_score": 0.9}],
        "usage": {"total_tokens": COUNTED},
        "meta": {"billed_units": {"search_units": 3}},
    }
    sent = scoring.requests[-1]
    assert (sent.path, sent.headers["authorization"]) == ("/v2/rerank", "Bearer upstream-key-cohere")
    assert sent.body["model"] == "rerank-v3.5"
    [record] = usage_for(1)
    assert record.charge == 3 * PER_REQUEST == 6_000_000
    assert record.meters["request"] == [3, PER_REQUEST]


def test_jina_tokens_are_billed_as_input_tokens(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer
) -> None:
    scoring.script(Scored(tokens=1_000))

    reply = rerank(ranker, buyer, {"model": JINA, "query": QUERY, "documents": ["a", "b"]})

    assert reply.status_code == 200, reply.text
    assert scoring.requests[-1].headers["authorization"] == "Bearer upstream-key-jina"
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.charge) == (1_000, 1_000 * 20)


def test_unaffordable_worst_case_is_402_before_the_upstream_is_called(
    ranked: Shop, scoring: FakeScoring, start_gateway: Callable[..., ServerThread]
) -> None:
    poor = ranked.customer(PER_REQUEST)  # the request is affordable, its tokens are not
    gateway = start_gateway()

    reply = rerank(gateway, poor, {"model": RERANK, "query": QUERY, "documents": DOCUMENTS})

    assert reply.status_code == 402
    assert reply.json()["error"]["code"] == "insufficient_quota"
    assert scoring.requests == []
    assert charges(poor.user_id) == []


@pytest.mark.parametrize(
    "scored",
    [
        Scored(status=500),
        Scored(body={"results": [{"index": 7, "relevance_score": 0.5}]}),
        Scored(body={"results": [{"index": 0}]}),
        Scored(body={"id": "x"}),
    ],
    ids=["status-500", "index-out-of-range", "no-score", "no-results"],
)
def test_a_failing_or_malformed_upstream_is_502_and_bills_nothing(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer, scored: Scored
) -> None:
    scoring.script(scored)

    reply = rerank(ranker, buyer, {"model": RERANK, "query": QUERY, "documents": DOCUMENTS})

    assert reply.status_code == 502
    assert reply.json()["error"]["type"] == "server_error"
    [record] = usage_for(1)
    assert (record.status, record.charge) == ("error", 0)
    assert charges(buyer.user_id) == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": QUERY, "documents": ["a"]}, "model"),
        ({"model": RERANK, "documents": ["a"]}, "query"),
        ({"model": RERANK, "query": " ", "documents": ["a"]}, "query"),
        ({"model": RERANK, "query": QUERY}, "documents"),
        ({"model": RERANK, "query": QUERY, "documents": []}, "documents"),
        ({"model": RERANK, "query": QUERY, "documents": "a"}, "documents"),
        ({"model": RERANK, "query": QUERY, "documents": ["a", 7]}, "documents[1]"),
        ({"model": RERANK, "query": QUERY, "documents": [{"title": "a"}]}, "documents[0]"),
        ({"model": RERANK, "query": QUERY, "documents": ["a"] * 1_001}, "documents"),
        ({"model": RERANK, "query": QUERY, "documents": ["a", "b"], "top_n": 0}, "top_n"),
        ({"model": RERANK, "query": QUERY, "documents": ["a", "b"], "top_n": 3}, "top_n"),
        ({"model": RERANK, "query": QUERY, "documents": ["a", "b"], "top_n": 1.5}, "top_n"),
        (
            {"model": RERANK, "query": QUERY, "documents": ["a"], "return_documents": "yes"},
            "return_documents",
        ),
        ({"model": "acme/nope", "query": QUERY, "documents": ["a"]}, "model"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    ranker: ServerThread, scoring: FakeScoring, buyer: Customer, body: dict[str, Any], param: str
) -> None:
    reply = rerank(ranker, buyer, body)

    assert reply.status_code == (404 if body.get("model") == "acme/nope" else 400)
    assert reply.json()["error"]["param"] == param
    assert scoring.requests == []


@SQLITE_ONLY
def test_a_chat_model_on_the_rerank_path_is_told_where_to_go(
    ranked: Shop, upstream: Any, start_gateway: Callable[..., ServerThread]
) -> None:
    ranked.provider("alpha", upstream.url)
    ranked.model("acme/chat-1", "alpha")
    customer = ranked.customer(10_000_000_000)
    gateway = start_gateway()

    reply = rerank(gateway, customer, {"model": "acme/chat-1", "query": QUERY, "documents": ["a"]})

    assert reply.status_code == 400 and reply.json()["error"]["param"] == "model"
    assert "/v1/chat/completions" in reply.json()["error"]["message"]


@SQLITE_ONLY
def test_the_console_probe_of_a_rerank_provider_sends_a_one_document_rerank(
    ranked: Shop, scoring: FakeScoring
) -> None:
    result = probe(Provider.get(Provider.name == "cohere"), ranked.settings.secret_key)

    assert result.ok, result.message
    sent = scoring.requests[-1]
    assert (sent.path, sent.body) == (
        "/v2/rerank",
        {"model": "rerank-v3.5", "query": "ping", "documents": ["ping"], "top_n": 1},
    )
