"""`POST /v1/rerank`: documents ordered by relevance to a query, in the shape Cohere and Jina use.

    {model, query, documents: [str | {text}], top_n?, return_documents?}
    → {id?, model, results: [{index, relevance_score, document?: {text}}], usage: {total_tokens}, meta?}

Served by providers that rerank natively: OpenAI-compatible servers (vLLM, Infinity), Cohere's v2
API and Jina's. The upstream gets the documents as plain strings and every other field as sent
(`return_documents` aside); the gateway orders the results itself, keeps the best `top_n`, and
attaches the documents only when `return_documents` is true (Cohere's default, false).

Billing: input tokens as the upstream reports them (Jina and vLLM: `usage.total_tokens`), else
counted (the query read once per document); one `request`, or as many as the Cohere search units
reported (`meta.billed_units.search_units`). The hold covers the search units a Cohere call could
bill at most: one per 100 documents, a long document counting once per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from dataplane.billing import Reservation
from dataplane.bodies import bounded_int, bounded_prompt
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import bad_request, upstream_error
from dataplane.snapshot import RouteInfo
from dataplane.tokens import OVERHEAD_TOKENS, estimate_tokens
from dataplane.upstreams.base import Upstream
from shared.money import TokenUsage

MAX_DOCUMENTS = 1_000
DOCUMENTS_PER_SEARCH_UNIT = 100
# The smallest chunk a long document may be split into, in tokens (a token is at least one byte).
CHUNK_TOKENS = 256


@dataclass
class RerankRequest:
    """A rerank body with its documents as strings."""

    body: dict[str, Any]
    query: str
    documents: list[str]
    top_n: int | None
    return_documents: bool


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "you must provide a model parameter (a string).")
    return model


def _document(i: int, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    raise bad_request(f"documents[{i}]", 'each document must be a string or an object {"text": "..."}.')


def _documents(body: dict[str, Any]) -> list[str]:
    value = body.get("documents")
    if not isinstance(value, list) or not value:
        raise bad_request("documents", "`documents` must be a non-empty array of strings or {text} objects.")
    if len(value) > MAX_DOCUMENTS:
        raise bad_request(
            "documents", f"`documents` may hold at most {MAX_DOCUMENTS} items, got {len(value)}."
        )
    return [_document(i, d) for i, d in enumerate(value)]


def parse_rerank(body: dict[str, Any]) -> RerankRequest:
    """Check a rerank body; 400 naming the bad field."""
    _model(body)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad_request("query", "`query` must be a non-empty string.")
    documents = _documents(body)
    top_n = bounded_int(body, "top_n", 1, len(documents))
    flag = body.get("return_documents", False)
    if flag is not None and not isinstance(flag, bool):
        raise bad_request("return_documents", "`return_documents` must be a boolean.")
    return RerankRequest(body, query, documents, top_n, bool(flag))


def search_units_bound(query: str, documents: list[str]) -> int:
    """The most search units a Cohere call on these documents could bill."""
    query_bytes = len(query.encode("utf-8"))
    chunks = sum(max(1, -(-(len(d.encode("utf-8")) + query_bytes) // CHUNK_TOKENS)) for d in documents)
    return -(-chunks // DOCUMENTS_PER_SEARCH_UNIT)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def reported_usage(payload: dict[str, Any]) -> tuple[int | None, int | None]:
    """(input tokens, search units) as the reply reports them; None for what it does not."""
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    billed = meta.get("billed_units") if isinstance(meta.get("billed_units"), dict) else {}
    tokens = _count(usage.get("prompt_tokens"))
    if tokens is None:
        tokens = _count(usage.get("total_tokens"))
    if tokens is None:
        tokens = _count(billed.get("input_tokens"))
    return tokens, _count(billed.get("search_units"))


def _score(item: Any, size: int) -> tuple[int, float]:
    index = item.get("index") if isinstance(item, dict) else None
    score = item.get("relevance_score", item.get("score")) if isinstance(item, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
        raise upstream_error("The upstream provider's rerank reply has a result without a valid `index`.")
    if not isinstance(score, int | float) or isinstance(score, bool):
        raise upstream_error("The upstream provider's rerank reply has a result without a `relevance_score`.")
    return index, float(score)


def ranked(payload: dict[str, Any], wanted: RerankRequest) -> list[dict[str, Any]]:
    """The reply's results, best first, cut at `top_n`, with documents when they were asked for."""
    results = payload.get("results")
    if not isinstance(results, list):
        raise upstream_error("The upstream provider's rerank reply has no `results` list.")
    scores = sorted((_score(item, len(wanted.documents)) for item in results), key=lambda s: -s[1])
    out = []
    for index, score in scores[: wanted.top_n or len(scores)]:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if wanted.return_documents:
            result["document"] = {"text": wanted.documents[index]}
        out.append(result)
    return out


class Rerank(Endpoint):
    name = "rerank"
    paths = ("/rerank",)
    modality = "rerank"
    bills_output = False
    translatable = False

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        wanted = parse_rerank(body)
        query_bytes = len(wanted.query.encode("utf-8"))
        pairs = sum(query_bytes + len(d.encode("utf-8")) + 2 for d in wanted.documents)
        units = search_units_bound(wanted.query, wanted.documents)
        return Call(
            body["model"],
            False,
            bounded_prompt(pairs + OVERHEAD_TOKENS),
            None,
            wanted,
            counts={"request": units},
        )

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        wanted = call.parsed
        body = {k: v for k, v in wanted.body.items() if k != "return_documents"}
        body["documents"] = wanted.documents
        return adapter.native_request(route, "/rerank", body, {"x-request-id": r.caller.request_id})

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        tokens, units = reported_usage(payload)
        source = "upstream" if tokens is not None else "counted"
        if tokens is None:
            tokens = self.counted_prompt(call)
        reply: dict[str, Any] = {"model": call.model, "results": ranked(payload, call.parsed)}
        if isinstance(payload.get("id"), str):
            reply = {"id": payload["id"], **reply}
        reply["usage"] = {"total_tokens": tokens}
        if units is not None:
            reply["meta"] = {"billed_units": {"search_units": units}}
        usage = TokenUsage(tokens, 0, counts={"request": 1 if units is None else units})
        return NativeReply(orjson.dumps(reply), usage, 0, usage_source=source)

    def counted_prompt(self, call: Call) -> int:
        wanted = call.parsed
        query = estimate_tokens(wanted.query)
        return sum(query + estimate_tokens(d) for d in wanted.documents)


ENDPOINT = Rerank()
