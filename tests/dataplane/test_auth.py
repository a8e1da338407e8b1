"""Where keys come from, revocation within 2 s, and what never authenticates."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import openai
import pytest

from shared import accounts
from shared.models import User
from tests.dataplane.helpers import CHAT_MODEL, Customer, eventually
from tests.support.servers import ServerThread

BODY = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("header", ["authorization", "x-api-key", "api-key"])
def test_key_is_accepted_from_each_header(gateway: ServerThread, alice: Customer, header: str) -> None:
    value = f"Bearer {alice.secret}" if header == "authorization" else alice.secret

    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=BODY, headers={header: value})

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("prefix", ["/api/v1", ""])
def test_other_prefixes_serve_the_same_api(gateway: ServerThread, alice: Customer, prefix: str) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}{prefix}", api_key=alice.secret, max_retries=0)

    assert client.chat.completions.create(**BODY).choices[0].message.content  # type: ignore[call-overload]
    assert [m.id for m in client.models.list()] == [CHAT_MODEL, "acme/embed-1"]


def test_a_session_cookie_never_authenticates(gateway: ServerThread) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=BODY, cookies={"session": "console-session"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def _status(gateway: ServerThread, customer: Customer) -> int:
    headers = {"authorization": f"Bearer {customer.secret}"}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=BODY, headers=headers).status_code


def test_revocation_takes_effect_within_two_seconds(
    gateway: ServerThread, alice: Customer, start_gateway: Callable
) -> None:
    assert _status(gateway, alice) == 200

    accounts.revoke_key(alice.key_id)
    revoked_at = time.monotonic()
    eventually(lambda: _status(gateway, alice) == 401, timeout=2.0, what="the revoked key to be refused")

    assert time.monotonic() - revoked_at <= 2.0


def test_disabling_a_user_takes_effect_within_two_seconds(gateway: ServerThread, alice: Customer) -> None:
    assert _status(gateway, alice) == 200

    accounts.set_user_status(User.get_by_id(alice.user_id), "disabled")

    eventually(lambda: _status(gateway, alice) == 403, timeout=2.0, what="the disabled user to be refused")
