"""The public model id in what customers get back: upstreams name their own model, never shown.

A reply, or a stream event, relayed as the upstream sent it keeps its bytes; only the string
value of each `model` key is replaced, by a regular expression over those bytes, so nothing is
parsed or serialised again. Inside a JSON string every `"` is escaped, so `"model"` followed by
a colon is always a key: a `model` written in a text or tool arguments is never touched.
"""

from __future__ import annotations

import re

import orjson

_MODEL_VALUE = re.compile(rb'("model"\s*:\s*)"(?:[^"\\]|\\.)*"')


class PublicModel:
    """Rewrites the `model` of JSON bytes to one catalogue model id."""

    __slots__ = ("name", "_value")

    def __init__(self, name: str) -> None:
        self.name = name
        self._value = orjson.dumps(name)  # the id as a JSON string

    def bytes(self, data: bytes, current: str | None = None) -> bytes:
        """`data` with the string value of every `model` key set to the public id.

        `current` is the model the parsed `data` names, when the caller knows it: if
        `"model"` occurs once, written compactly, one C-speed replace does (the usual reply).
        """
        if current is not None and data.count(b'"model"') == 1:
            written = b'"model":' + orjson.dumps(current)
            if written in data:
                return data.replace(written, b'"model":' + self._value, 1)
        # Searched and spliced by hand: `re.sub` with a template runs a Python filter per call,
        # a cost on every event of every stream.
        pieces = []
        start = 0
        for match in _MODEL_VALUE.finditer(data):
            pieces += (data[start : match.end(1)], self._value)
            start = match.end()
        if not pieces:
            return data
        pieces.append(data[start:])
        return b"".join(pieces)

    def differs(self, payload: object) -> bool:
        """Whether a parsed object names another model than the public one (a rewrite is due)."""
        if not isinstance(payload, dict):
            return False
        model = payload.get("model")
        return isinstance(model, str) and model != self.name
