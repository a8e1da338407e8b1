"""Helpers for data-plane tests: a priced shop, waiting for settlement, reading money back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx
import openai
from openai import OpenAI

from shared import accounts, billing, catalog
from shared.models import Hold, LedgerEntry, UsageRecord, User
from shared.settings import Settings
from tests.support.upstream import FakeUpstream

T = TypeVar("T")

# $1 per 1M input tokens and $2 per 1M output tokens: 1,000 and 2,000 nano-USD per token.
INPUT_PRICE = 1_000_000_000
OUTPUT_PRICE = 2_000_000_000
CHAT_MODEL = "acme/chat-1"
EMBED_MODEL = "acme/embed-1"


def eventually(check: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def prompt_bound(request: httpx.Request) -> int:
    """The prompt bound a text-only request's hold is sized by: its body's size in bytes plus 16."""
    return len(request.content) + 16


def affordable_output(budget: int, request: httpx.Request) -> int:
    """The output cap `budget` pays at the test prices once the request's prompt bound is paid."""
    return (budget - prompt_bound(request) * 1_000) // 2_000


def statuses_all_at_once(upstream: FakeUpstream, clients: Sequence[OpenAI], max_tokens: int) -> list[int]:
    """One "hello" chat request per client, all at once; the HTTP status of each, in no order.

    `upstream` must hold its answers (a long `latency_s`): it is released only once every request
    has been let in (reached it) or refused, so no hold is freed before all were decided.
    """
    results: list[int] = []

    def call(client: OpenAI) -> None:
        try:
            client.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=max_tokens
            )
            results.append(200)
        except openai.APIStatusError as exc:
            results.append(exc.status_code)

    threads = [threading.Thread(target=call, args=(client,)) for client in clients]
    for t in threads:
        t.start()
    eventually(
        lambda: len(results) + len(upstream.requests) == len(clients), what="every request to be decided"
    )
    upstream.release()
    for t in threads:
        t.join()
    return results


def usage_for(request_count: int) -> list[UsageRecord]:
    """Wait until `request_count` usage records exist; return them oldest first."""
    eventually(lambda: UsageRecord.select().count() >= request_count, what=f"{request_count} usage record(s)")
    return list(UsageRecord.select().order_by(UsageRecord.id))


def balance(user_id: int) -> int:
    return User.get_by_id(user_id).balance


def charges(user_id: int) -> list[int]:
    return [
        -e.amount
        for e in LedgerEntry.select().where((LedgerEntry.user == user_id) & (LedgerEntry.kind == "charge"))
    ]


def active_holds() -> int:
    return Hold.select().where(Hold.state == "active").count()


@dataclass
class Customer:
    """A user with a balance and one API key."""

    user_id: int
    key_id: int
    secret: str

    def client(self, base_url: str, **kwargs: object) -> OpenAI:
        return OpenAI(base_url=f"{base_url}/v1", api_key=self.secret, max_retries=0, timeout=15, **kwargs)


class Shop:
    """Test data built through the shared services (the way the console and the CLI do it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.count = 0

    def provider(self, name: str, upstream_url: str, timeout_s: float = 10.0) -> None:
        catalog.add_provider(
            name, upstream_url + "/v1", f"upstream-key-{name}", self.settings.secret_key, timeout_s=timeout_s
        )

    def model(self, slug: str = CHAT_MODEL, provider: str = "alpha", **kwargs: object) -> None:
        kwargs.setdefault("input_price", INPUT_PRICE)
        kwargs.setdefault("output_price", OUTPUT_PRICE)
        catalog.add_model_route(slug, provider, **kwargs)  # type: ignore[arg-type]

    def customer(self, usd_nano: int, group: str = "default", **key_args: object) -> Customer:
        self.count += 1
        user = accounts.create_user(f"buyer{self.count}@example.com", group=group)
        if usd_nano:
            billing.post_entry(user.id, usd_nano, "deposit", f"dep:{user.id}")
        key, secret = accounts.create_key(user, **key_args)  # type: ignore[arg-type]
        return Customer(user.id, key.id, secret)
