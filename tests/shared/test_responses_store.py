"""Stored Responses API responses: owner-only, chained, expiring, deletable (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from shared import accounts, jobs, responses_store
from shared.models import StoredResponse, User, utcnow
from shared.settings import Settings

DAY = 86_400


def _user(email: str) -> User:
    return accounts.create_user(email)


def _response(rid: str, text: str) -> dict:
    item = {
        "type": "message",
        "id": f"msg_{rid}",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }
    return {"id": rid, "object": "response", "output": [item]}


def _ask(text: str) -> list[dict]:
    return [
        {
            "type": "message",
            "id": f"in_{text}",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
    ]


def _save(
    user: User, rid: str, question: str, answer: str, previous: str | None = None, ttl: int = DAY
) -> None:
    responses_store.save_response(
        user.id, None, "acme/chat-1", _response(rid, answer), _ask(question), previous, ttl
    )


def test_a_saved_response_comes_back_to_its_owner_only(settings: Settings) -> None:
    alice, bob = _user("alice@example.com"), _user("bob@example.com")
    _save(alice, "resp_1", "hi", "hello")

    assert responses_store.load_response(alice.id, "resp_1") == _response("resp_1", "hello")
    assert responses_store.input_items(alice.id, "resp_1") == _ask("hi")
    assert responses_store.load_response(bob.id, "resp_1") is None
    assert responses_store.conversation(bob.id, "resp_1") is None
    assert responses_store.delete_response(bob.id, "resp_1") is False
    assert responses_store.load_response(alice.id, "resp_1") is not None


def test_saving_the_same_id_twice_keeps_the_first(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "hi", "hello")
    _save(alice, "resp_1", "other", "changed")

    assert responses_store.load_response(alice.id, "resp_1") == _response("resp_1", "hello")
    assert StoredResponse.select().count() == 1


def test_a_conversation_is_every_turn_oldest_first(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "one", "uno")
    _save(alice, "resp_2", "two", "dos", previous="resp_1")
    _save(alice, "resp_3", "three", "tres", previous="resp_2")

    items = responses_store.conversation(alice.id, "resp_3")

    assert items is not None
    texts = [item["content"][0]["text"] for item in items]
    assert texts == ["one", "uno", "two", "dos", "three", "tres"]
    assert [
        i["text"] for i in (x["content"][0] for x in responses_store.conversation(alice.id, "resp_2") or [])
    ] == [
        "one",
        "uno",
        "two",
        "dos",
    ]


def test_expired_responses_are_gone_and_purged(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_old", "hi", "hello", ttl=60)
    _save(alice, "resp_new", "hi", "hello")
    StoredResponse.update(expires_at=utcnow() - dt.timedelta(seconds=1)).where(
        StoredResponse.response_id == "resp_old"
    ).execute()

    assert responses_store.load_response(alice.id, "resp_old") is None
    assert responses_store.conversation(alice.id, "resp_old") is None
    assert jobs.purge_stored_responses(settings) == 1
    assert [r.response_id for r in StoredResponse.select()] == ["resp_new"]


def test_a_deleted_response_is_gone(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "hi", "hello")

    assert responses_store.delete_response(alice.id, "resp_1") is True
    assert responses_store.load_response(alice.id, "resp_1") is None
    assert responses_store.delete_response(alice.id, "resp_1") is False
