"""Stored Responses API responses: owner-only, chained, expiring, deletable (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared import accounts, jobs, migrations, responses_store
from shared.db import db
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


def _texts(items: list[dict] | None) -> list[str]:
    assert items is not None
    return [item["content"][0]["text"] for item in items]


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

    whole = responses_store.conversation(alice.id, "resp_3")

    assert _texts(whole) == ["one", "uno", "two", "dos", "three", "tres"]
    assert _texts(responses_store.conversation(alice.id, "resp_2")) == ["one", "uno", "two", "dos"]
    assert responses_store.input_items(alice.id, "resp_3") == _ask("three")


def test_a_long_conversation_is_cut_to_its_newest_turns(settings: Settings) -> None:
    alice = _user("alice@example.com")
    previous = None
    for n in range(1, 6):
        _save(alice, f"resp_{n}", f"q{n}", f"a{n}", previous=previous)
        previous = f"resp_{n}"

    assert _texts(responses_store.conversation(alice.id, "resp_5", max_depth=2)) == ["q4", "a4", "q5", "a5"]
    assert len(responses_store.conversation(alice.id, "resp_5") or []) == 10


def test_a_deleted_link_ends_the_conversation_there(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "one", "uno")
    _save(alice, "resp_2", "two", "dos", previous="resp_1")
    _save(alice, "resp_3", "three", "tres", previous="resp_2")
    responses_store.delete_response(alice.id, "resp_2")

    assert _texts(responses_store.conversation(alice.id, "resp_3")) == ["three", "tres"]
    assert responses_store.conversation(alice.id, "resp_2") is None


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
    assert responses_store.purge_expired(utcnow() + dt.timedelta(seconds=DAY - 60)) == 0
    assert responses_store.purge_expired(utcnow() + dt.timedelta(seconds=DAY)) == 1
    assert StoredResponse.select().count() == 0


def test_a_retention_of_zero_keeps_nothing(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "hi", "hello", ttl=0)

    assert responses_store.load_response(alice.id, "resp_1") is None
    assert StoredResponse.select().count() == 0


def test_the_retention_comes_from_the_environment_and_refuses_negatives(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOLLGATE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", "s")
    monkeypatch.delenv("TOLLGATE_RESPONSE_RETENTION_DAYS", raising=False)
    assert Settings.from_env().response_retention_days == 30
    monkeypatch.setenv("TOLLGATE_RESPONSE_RETENTION_DAYS", "0")
    assert Settings.from_env().response_retention_days == 0
    monkeypatch.setenv("TOLLGATE_RESPONSE_RETENTION_DAYS", "-1")
    with pytest.raises(SystemExit, match="TOLLGATE_RESPONSE_RETENTION_DAYS must be 0 or more"):
        Settings.from_env()


def test_a_deleted_response_is_gone(settings: Settings) -> None:
    alice = _user("alice@example.com")
    _save(alice, "resp_1", "hi", "hello")

    assert responses_store.delete_response(alice.id, "resp_1") is True
    assert responses_store.load_response(alice.id, "resp_1") is None
    assert responses_store.delete_response(alice.id, "resp_1") is False


def test_the_migration_rolls_back_and_applies_again(settings: Settings) -> None:
    alice = _user("alice@example.com")
    try:
        assert "0005_stored_responses" in migrations.runner().down("0005_stored_responses")
        assert "stored_response" not in db.obj.get_tables()
        assert "users" in db.obj.get_tables()
    finally:
        migrations.upgrade()
    assert migrations.pending() == []
    _save(alice, "resp_1", "hi", "hello")
    assert responses_store.load_response(alice.id, "resp_1") == _response("resp_1", "hello")
