"""Responses the gateway delivered with `store`, kept per owner until they expire.

The data plane saves each stored response with its request's own input items; a later request's
`previous_response_id` is answered by walking the chain back (`conversation`). Every read is by
owner: another customer's id, an expired one and an unknown one all look the same (None).
All functions block: the data plane runs them in its DB threads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from peewee import IntegrityError

from shared.db import db, write_transaction
from shared.models import StoredResponse, utcnow

MAX_CHAIN = 100


def save_response(
    user_id: int,
    api_key_id: int | None,
    model: str,
    response: dict[str, Any],
    input_items: list[dict[str, Any]],
    previous_response_id: str | None,
    retention_s: int,
) -> None:
    """Keep `response` for `retention_s` seconds (0 or less: nothing is kept).

    Saving an id that is already kept changes nothing.
    """
    if retention_s <= 0:
        return
    now = utcnow()
    try:
        with db.connection_context(), write_transaction():
            StoredResponse.create(
                response_id=str(response["id"]),
                user=user_id,
                api_key=api_key_id,
                model=model,
                previous_response_id=previous_response_id,
                input_items=orjson.dumps(input_items).decode(),
                response=orjson.dumps(response).decode(),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=retention_s),
            )
    except IntegrityError:
        pass  # already kept: a response is saved once


def _row(user_id: int, response_id: str) -> StoredResponse | None:
    return (
        StoredResponse.select()
        .where(
            (StoredResponse.response_id == response_id)
            & (StoredResponse.user == user_id)
            & (StoredResponse.expires_at > utcnow())
        )
        .first()
    )


def load_response(user_id: int, response_id: str) -> dict[str, Any] | None:
    """The stored response, if it is the user's and has not expired."""
    with db.connection_context():
        row = _row(user_id, response_id)
    return orjson.loads(row.response) if row else None


def input_items(user_id: int, response_id: str) -> list[dict[str, Any]] | None:
    """The input items the stored response was given."""
    with db.connection_context():
        row = _row(user_id, response_id)
    return orjson.loads(row.input_items) if row else None


def conversation(user_id: int, response_id: str, max_depth: int = MAX_CHAIN) -> list[dict[str, Any]] | None:
    """Every item up to and including that response, oldest first: each response's input, then its output.

    None when the response is unknown, expired or another user's. The walk back stops at a link that
    is gone (expired or deleted) or after `max_depth` responses, so the result is then the newest
    `max_depth` turns.
    """
    chain: list[StoredResponse] = []
    with db.connection_context():
        row = _row(user_id, response_id)
        while row is not None and len(chain) < max_depth:
            chain.append(row)
            row = _row(user_id, row.previous_response_id) if row.previous_response_id else None
    if not chain:
        return None
    items: list[dict[str, Any]] = []
    for row in reversed(chain):
        items += orjson.loads(row.input_items)
        items += orjson.loads(row.response).get("output") or []
    return items


def delete_response(user_id: int, response_id: str) -> bool:
    """Forget a stored response of the user's; whether there was one."""
    with db.connection_context(), write_transaction():
        query = StoredResponse.delete().where(
            (StoredResponse.response_id == response_id) & (StoredResponse.user == user_id)
        )
        return query.execute() > 0


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete every stored response past its expiry; how many."""
    with db.connection_context():
        return StoredResponse.delete().where(StoredResponse.expires_at <= (now or utcnow())).execute()
