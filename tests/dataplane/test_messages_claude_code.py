"""What Claude Code sends on /v1/messages: system messages inside `messages`, betas, thinking, caching.

With the official `anthropic` SDK, once on an Anthropic-kind route (everything passed through) and
once on an OpenAI-compatible route (translated where chat completions can say it), with exact charges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared import catalog
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.dataplane.test_messages import claude_client
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
# A conversation as Claude Code sends it: a system message between turns, a thinking block with its
# signature, cache_control on blocks, and a tool result carrying an image.
CONVERSATION: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [{"type": "text", "text": "look at the screen", "cache_control": {"type": "ephemeral"}}],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should take a screenshot.", "signature": "sig-1"},
            {"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}},
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [
                    {"type": "text", "text": "here it is"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                ],
            }
        ],
    },
    {"role": "system", "content": "The user switched to plan mode."},
    {"role": "user", "content": "what do you see?"},
]
THINKING = {"type": "enabled", "budget_tokens": 5000}


def _create(gateway: ServerThread, customer: Customer) -> Any:
    return claude_client(gateway, customer).messages.create(
        model=CHAT_MODEL,
        max_tokens=8000,
        system=[{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        messages=CONVERSATION,  # type: ignore[arg-type]
        thinking=THINKING,  # type: ignore[arg-type]
        extra_headers={"anthropic-beta": BETAS},
    )


@pytest.fixture
def anthropic_route(
    shop: Shop, upstream: FakeUpstream, start_gateway: Callable
) -> tuple[ServerThread, Customer]:
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("claude", url + "/v1", "sk-ant-test", shop.settings.secret_key, kind="anthropic")
    shop.model(CHAT_MODEL, "claude", upstream_model="claude-test")
    return start_gateway(), shop.customer(1_000_000_000)


def test_native_route_passes_everything_claude_code_sends(
    anthropic_route: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = anthropic_route
    upstream.script(Reply(text="A login form.", usage=(40, 6)))

    message = _create(gateway, customer)

    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.body["messages"] == CONVERSATION
    assert sent.body["thinking"] == THINKING
    assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent.headers["anthropic-beta"] == BETAS
    assert message.content[0].text == "A login form."
    [record] = usage_for(1)
    assert (record.prompt_tokens, record.completion_tokens, record.status) == (40, 6, "ok")
    assert charges(customer.user_id) == [40 * 1_000 + 6 * 2_000]


def test_translated_route_folds_the_conversation_into_chat(
    stocked: Shop, alice: Customer, upstream: FakeUpstream, start_gateway: Callable
) -> None:
    gateway = start_gateway()
    upstream.script(Reply(text="A login form.", usage=(40, 6)))

    message = _create(gateway, alice)

    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert "anthropic-beta" not in sent.headers
    assert [m["role"] for m in sent.body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "user",
        "system",
        "user",
    ]
    assert sent.body["messages"][0]["content"] == "You are Claude Code."
    assert sent.body["messages"][2]["tool_calls"][0]["id"] == "toolu_1"
    assert sent.body["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "here it is"}
    image = sent.body["messages"][4]["content"][0]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
    assert sent.body["messages"][5] == {"role": "system", "content": "The user switched to plan mode."}
    assert sent.body["reasoning_effort"] == "medium"
    assert message.content[0].text == "A login form."
    [record] = usage_for(1)
    assert charges(alice.user_id) == [record.charge] == [40 * 1_000 + 6 * 2_000]


def test_openai_client_thinking_reaches_anthropic_as_a_budget(
    anthropic_route: tuple[ServerThread, Customer], upstream: FakeUpstream
) -> None:
    gateway, customer = anthropic_route
    upstream.script(Reply(text="ok", usage=(10, 2)))

    customer.client(gateway.url).chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "hi"}, {"role": "system", "content": "late rule"}],
        max_tokens=8000,
        reasoning_effort="high",
        temperature=0.3,
    )

    sent = upstream.requests[-1].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 7999}
    assert "temperature" not in sent  # thinking takes none
    assert sent["system"] == "late rule"
    [record] = usage_for(1)
    assert charges(customer.user_id) == [record.charge] == [10 * 1_000 + 2 * 2_000]
