"""A provider without an API key (Ollama, a local vLLM) is called with no Authorization header at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from shared import catalog
from tests.dataplane.helpers import Shop, charges, usage_for
from tests.support.keyless import Keyless
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="module")
def keyless_server() -> Iterator[tuple[Keyless, str]]:
    keyless = Keyless(FakeUpstream("keyless"))
    with ServerThread(keyless.app(), log_level="critical", graceful_s=1.0) as server:
        yield keyless, server.url


@pytest.mark.parametrize("key", ["", "  "], ids=["empty", "blank"])
def test_keyless_provider_serves_chat_and_streams(
    shop: Shop, start_gateway: Callable[..., ServerThread], keyless_server: tuple[Keyless, str], key: str
) -> None:
    server, url = keyless_server
    server.fake.reset()
    server.rejected.clear()
    catalog.add_provider("ollama", url + "/v1", key, shop.settings.secret_key, kind="openai-chat")
    shop.model("local/llama", "ollama", upstream_model="llama3.2")
    customer = shop.customer(1_000_000_000)
    client = customer.client(start_gateway().url)

    reply = client.chat.completions.create(
        model="local/llama", messages=[{"role": "user", "content": "hi"}], max_tokens=20
    )
    streamed = list(
        client.chat.completions.create(
            model="local/llama", messages=[{"role": "user", "content": "hi"}], max_tokens=20, stream=True
        )
    )

    assert server.rejected == []
    assert reply.choices[0].message.content == "Hello from upstream"
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello from upstream"
    assert all("authorization" not in sent.headers for sent in server.fake.requests)
    assert len(usage_for(2)) == 2 and len(charges(customer.user_id)) == 2
