"""Property-based fuzzing of every `/v1` POST route against one real data plane (SQLite, loopback).

Hypothesis builds bodies that mix valid shapes with wrong types, huge, negative, float and
boolean numbers (beyond 2**63 and 2**64 too), nulls, nested junk, broken JSON and odd content
types. Whatever comes in, the gateway must answer below 500 (the fake upstream is healthy, so no
502/503/504 either), every 400 must carry its API family's error shape (OpenAI's with a `param`
naming a field of the body), and money moves only for what was served: the balance drops by the
charges of the 200s alone, and no usage record of a refused request charges anything.

Derandomized with no example database, so every run sends the same requests and writes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from dataplane.app import create_app
from dataplane.bodies import MAX_N, MAX_OUTPUT_TOKENS
from shared import catalog
from shared.db import db, init_db
from shared.models import UsageRecord
from shared.settings import Secret, Settings
from tests.dataplane.helpers import CHAT_MODEL, EMBED_MODEL, Customer, Shop, active_holds, balance, eventually
from tests.support import databases
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream

CLAUDE_MODEL = "acme/claude-1"  # on an Anthropic-kind provider: Messages go natively
EXAMPLES_PER_ROUTE = 80
ANTHROPIC_ROUTES = ("/v1/messages", "/v1/messages/count_tokens")
ALLOWED_STATUSES = {200, 400, 404}
# Fields a body may lack and still be named by a 400 (they are required).
REQUIRED = {"model", "messages", "input", "prompt", "max_tokens"}
SERVER_FAILURES = ("internal_error", "upstream_error", "upstream_timeout", "api_error", "service_unavailable")

EDGE_INTS = [
    -(2**63) - 1,
    -(2**63),
    -1,
    0,
    1,
    2,
    MAX_N,
    MAX_N + 1,
    2**31,
    2**53 + 1,
    4_600_000_000_000_000,  # the max_tokens that overflowed a hold at the test prices
    MAX_OUTPUT_TOKENS,
    MAX_OUTPUT_TOKENS + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    2**65,
    10**30,
]
EDGE_FLOATS = [0.0, -0.0, 0.5, 1.0, 10.0, -1.5, 1e20, 1.8446744073709552e19, 1e308]


def _junk() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a little."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8)
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )


def _number() -> st.SearchStrategy[Any]:
    """What a client may put where a number goes: edges, any int, floats, booleans, strings, junk."""
    edges = st.sampled_from(EDGE_INTS)
    return st.one_of(
        edges,
        edges,
        edges,
        st.integers(min_value=-(2**70), max_value=2**70),
        st.integers(min_value=1, max_value=300),
        st.sampled_from(EDGE_FLOATS),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.sampled_from(["10", "", "1e3"]),
        _junk(),
    )


def _body(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]],
    numeric: tuple[str, ...],
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with up to two of its `numeric` fields given weird numbers, and sometimes one
    field (or an unknown one) replaced by junk.

    A few changes at a time tell whether each check names the right `param`; the bodies left valid
    are served, so the money check has charges to compare.
    """
    valid = st.fixed_dictionaries(required, optional=optional)
    numbers = st.dictionaries(st.sampled_from(numeric), _number(), max_size=2)
    junk = st.dictionaries(st.sampled_from([*required, *optional, "extra"]), _junk(), max_size=1)
    changes = st.builds(lambda a, b: {**a, **b}, numbers, st.just({}) | st.just({}) | junk)
    return st.builds(lambda body, changed: {**body, **changed}, valid, changes)


TEXT = st.text(max_size=12)
CAP = st.integers(1, 2_000) | st.sampled_from([1, 16, 4_096, MAX_OUTPUT_TOKENS])
N = st.sampled_from([1, 2, MAX_N])
UNIT = st.floats(0, 1)
FLAGS = {"stream": st.booleans(), "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()})}
CHAT_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system"]),
        "content": TEXT | st.just([{"type": "text", "text": "hi"}]) | st.just([{"type": "image_url"}]),
    }
)
TOKEN_ARRAY = st.lists(st.integers(0, 50_000), min_size=1, max_size=4)

CHAT = _body(
    {"model": st.just(CHAT_MODEL), "messages": st.lists(CHAT_MESSAGE, min_size=1, max_size=3)},
    {
        "max_tokens": CAP,
        "max_completion_tokens": CAP,
        "n": N,
        "temperature": UNIT,
        "top_p": UNIT,
        "top_logprobs": st.integers(0, 20),
        "seed": st.integers(),
        **FLAGS,
    },
    ("max_tokens", "max_completion_tokens", "n", "temperature", "top_logprobs", "seed"),
)
COMPLETIONS = _body(
    {"model": st.just(CHAT_MODEL), "prompt": TEXT | st.lists(TEXT, min_size=1, max_size=2) | TOKEN_ARRAY},
    {
        "max_tokens": CAP,
        "n": st.integers(1, 3),
        "best_of": st.integers(3, 20),
        "logprobs": st.integers(0, 5),
        "temperature": UNIT,
        "top_p": UNIT,
        "suffix": TEXT,
        "echo": st.booleans(),
        **FLAGS,
    },
    ("max_tokens", "n", "best_of", "logprobs", "temperature", "top_p"),
)
EMBEDDINGS = _body(
    {
        "model": st.just(EMBED_MODEL),
        "input": TEXT.filter(bool) | st.lists(TEXT, min_size=1, max_size=3) | TOKEN_ARRAY,
    },
    {"dimensions": st.integers(1, 3072), "encoding_format": st.sampled_from(["float", "base64"])},
    ("dimensions", "input"),
)
ANTHROPIC_BLOCK = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}),
    st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}),
    st.just({"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}),
    # Junk inside blocks the translation reads (a sometimes-valid shape, sometimes not).
    st.fixed_dictionaries(
        {"type": st.sampled_from(["image", "document", "tool_result", "tool_use", "thinking"])},
        optional={"source": _junk(), "content": _junk(), "input": _junk(), "tool_use_id": _junk()},
    ),
)
ANTHROPIC_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "user", "assistant"]),
        "content": TEXT | st.lists(ANTHROPIC_BLOCK, min_size=1, max_size=2),
    }
)
THINKING = st.fixed_dictionaries(
    {"type": st.sampled_from(["enabled", "adaptive"])}, optional={"budget_tokens": CAP | _number()}
)
MESSAGE_FIELDS = {
    "system": TEXT,
    "thinking": THINKING,
    "temperature": UNIT,
    "top_p": UNIT,
    "top_k": st.integers(1, 100),
    "stop_sequences": st.lists(TEXT, max_size=2),
    "metadata": st.just({"user_id": "u1"}),
    "tools": st.lists(st.fixed_dictionaries({"name": TEXT}, optional={"input_schema": _junk()}), max_size=1),
    "tool_choice": st.just({"type": "auto"}) | st.just({"type": "tool", "name": "x"}),
    "stream": st.booleans(),
}
MESSAGE_BASE = {
    "model": st.sampled_from([CHAT_MODEL, CLAUDE_MODEL]),
    "messages": st.lists(ANTHROPIC_MESSAGE, min_size=1, max_size=3),
}
MESSAGE_NUMBERS = ("max_tokens", "temperature", "top_p", "top_k")
MESSAGES = _body({**MESSAGE_BASE, "max_tokens": CAP}, MESSAGE_FIELDS, MESSAGE_NUMBERS)
COUNT_TOKENS = _body(MESSAGE_BASE, {**MESSAGE_FIELDS, "max_tokens": CAP}, MESSAGE_NUMBERS)
RESPONSE_ITEM = st.one_of(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "developer"]),
            "content": TEXT | st.lists(st.fixed_dictionaries({"type": st.just("input_text"), "text": TEXT})),
        }
    ),
    st.fixed_dictionaries({"type": st.just("function_call_output"), "call_id": TEXT, "output": TEXT}),
    st.fixed_dictionaries(
        {"type": st.just("function_call"), "call_id": TEXT},
        optional={"name": _junk(), "arguments": _junk(), "namespace": _junk()},
    ),
    st.fixed_dictionaries(
        {
            "role": st.just("user"),
            "content": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["input_image", "input_file", "input_text", "output_text"])},
                    optional={"image_url": _junk(), "file_data": _junk(), "text": _junk()},
                ),
                max_size=2,
            ),
        }
    ),
)
RESPONSES = _body(
    {"model": st.just(CHAT_MODEL), "input": TEXT | st.lists(RESPONSE_ITEM, min_size=1, max_size=3)},
    {
        "max_output_tokens": CAP,
        "temperature": UNIT,
        "top_p": UNIT,
        "top_logprobs": st.integers(0, 20),
        "max_tool_calls": st.integers(1, 10),
        "instructions": TEXT,
        "store": st.booleans(),
        "reasoning": st.just({"effort": "low"}),
        "text": st.just({"format": {"type": "text"}}),
        "stream": st.booleans(),
        "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "name": TEXT}), max_size=1),
    },
    ("max_output_tokens", "temperature", "top_p", "top_logprobs", "max_tool_calls"),
)
ROUTES = {
    "/v1/chat/completions": CHAT,
    "/v1/completions": COMPLETIONS,
    "/v1/embeddings": EMBEDDINGS,
    "/v1/messages": MESSAGES,
    "/v1/messages/count_tokens": COUNT_TOKENS,
    "/v1/responses": RESPONSES,
}
RAW_BODIES = [b"", b"{", b"[]", b"null", b"42", b'"text"', b'{"model": NaN}', b"\xff\xfe{}", b'{"a":1e400}']
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]


@dataclass
class Case:
    """One request to send: the route, the body as bytes, its content type and (if JSON) its object."""

    path: str
    raw: bytes
    content_type: str | None
    body: Any = None


def _case(path: str) -> st.SearchStrategy[Case]:
    """A body for `path`: a (mutated) JSON object usually, broken bytes or a non-object sometimes."""
    objects = ROUTES[path].map(lambda body: (json.dumps(body).encode(), body))
    raw = st.sampled_from(RAW_BODIES).map(lambda raw: (raw, None))
    return st.builds(
        lambda made, content_type: Case(path, made[0], content_type, made[1]),
        st.one_of(objects, objects, objects, raw),
        st.sampled_from(CONTENT_TYPES),
    )


@dataclass
class Gateway:
    """The running data plane, its customer, and what every fuzzed request got."""

    server: ServerThread
    customer: Customer
    http: httpx.Client
    outcomes: dict[str, int] = field(default_factory=dict)  # request id → status

    def send(self, case: Case) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.customer.secret}", "anthropic-version": "2023-06-01"}
        if case.content_type:
            headers["content-type"] = case.content_type
        response = self.http.post(self.server.url + case.path, content=case.raw, headers=headers)
        self.outcomes[response.headers["request-id"]] = response.status_code
        return response


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis's caches (constants, unicode tables) go to a temporary directory, not the repo."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A migrated SQLite database of this module's own (the servers live for the whole module)."""
    where = tmp_path_factory.mktemp("fuzz")
    url = databases.prepare("sqlite", where)
    init_db(url)
    yield Settings(
        database_url=url,
        secret_key=Secret("test-secret-key"),
        var_dir=Path(where) / "var",
        keepalive_interval_s=15.0,
        config_poll_interval_s=0.2,
        settle_flush_interval_s=0.005,
        lease_idle_release_s=0.5,
    )
    if not db.is_closed():
        db.close()


@pytest.fixture(scope="module")
def fuzzed(
    fuzz_settings: Settings, upstream_servers: dict[str, tuple[FakeUpstream, ServerThread]]
) -> Iterator[Gateway]:
    """A chat, an embedding and an Anthropic-kind model on the first fake; a customer with $1M."""
    fake, fake_server = upstream_servers["a"]
    fake.reset()
    shop = Shop(fuzz_settings)
    shop.provider("alpha", fake_server.url)
    catalog.add_provider(
        "claude", fake_server.url + "/v1", "upstream-key", fuzz_settings.secret_key, kind="anthropic"
    )
    shop.model(CHAT_MODEL, "alpha", upstream_model="up-chat")
    shop.model(EMBED_MODEL, "alpha", upstream_model="up-embed", modality="embedding", output_price=0)
    shop.model(CLAUDE_MODEL, "claude", upstream_model="up-claude")
    customer = shop.customer(1_000_000 * 1_000_000_000)
    server = ServerThread(create_app(fuzz_settings)).start()
    with httpx.Client(timeout=30) as http:
        yield Gateway(server, customer, http)
    server.stop()
    fake.reset()


def _param_names_a_field(param: Any, body: Any) -> bool:
    """Whether an OpenAI 400's `param` names a field the body has (or a required one it lacks)."""
    if not isinstance(body, dict):
        return param is None
    if not isinstance(param, str) or not param:
        return False
    root = re.split(r"[.\[]", param, maxsplit=1)[0]
    return root in body or root in REQUIRED


def _check_error_shape(case: Case, response: httpx.Response) -> None:
    """A 4xx is in the API family's error shape; a 400 on an OpenAI route names the bad field."""
    error = response.json()
    if case.path in ANTHROPIC_ROUTES:
        assert error["type"] == "error", error
        assert set(error["error"]) == {"type", "message"}, error
        assert isinstance(error["error"]["message"], str) and error["error"]["message"], error
        if response.status_code == 400:
            assert error["error"]["type"] == "invalid_request_error", error
        return
    assert set(error) == {"error"} and set(error["error"]) == {"message", "type", "param", "code"}, error
    assert isinstance(error["error"]["message"], str) and error["error"]["message"], error
    if response.status_code == 400:
        assert _param_names_a_field(error["error"]["param"], case.body), (case.raw[:300], error)


def _check(case: Case, response: httpx.Response) -> None:
    assert response.status_code in ALLOWED_STATUSES, (case.path, case.raw[:300], response.text[:300])
    if response.status_code != 200:
        _check_error_shape(case, response)
    elif response.headers.get("content-type", "").startswith("text/event-stream"):
        # A 200 stream must not have failed inside (the fake upstream never fails).
        assert not any(code.encode() in response.content for code in SERVER_FAILURES), response.text[:500]


def _settled(gateway: Gateway, served: set[str]) -> bool:
    """Every served request has its usage record, and no hold (lease) is left open."""
    records = UsageRecord.select().where(UsageRecord.request_id.in_(list(served) or [""])).count()
    return records == len(served) and active_holds() == 0


def _check_money(gateway: Gateway, before: int, sent: set[str], billed: bool) -> None:
    """The balance moved by the charges of this batch's 200s only; nothing else was charged."""
    served = {rid for rid in sent if gateway.outcomes[rid] == 200}
    recorded = served if billed else set()
    eventually(lambda: _settled(gateway, recorded), timeout=15, what="every served request to settle")
    records = list(UsageRecord.select().where(UsageRecord.request_id.in_(list(sent))))
    charged = {r.request_id: r.charge for r in records if r.charge > 0}
    assert set(charged) <= served, {rid: gateway.outcomes[rid] for rid in set(charged) - served}
    assert all(r.charge == 0 for r in records if r.request_id not in served)
    assert balance(gateway.customer.user_id) == before - sum(charged.values())


@pytest.mark.parametrize("path", list(ROUTES))
def test_fuzzed_bodies_get_a_client_error_or_an_answer_and_only_answers_are_charged(
    path: str, fuzzed: Gateway
) -> None:
    eventually(lambda: active_holds() == 0, what="earlier leases to be released")
    before = balance(fuzzed.customer.user_id)
    sent: set[str] = set()

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=_case(path))
    def one(case: Case) -> None:
        response = fuzzed.send(case)
        sent.add(response.headers["request-id"])
        _check(case, response)

    one()
    assert 200 in {fuzzed.outcomes[rid] for rid in sent}, "the fuzzer never produced a valid request"
    _check_money(fuzzed, before, sent, billed=path != "/v1/messages/count_tokens")
