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

    __slots__ = ("name", "_replacement")

    def __init__(self, name: str) -> None:
        self.name = name
        # A replacement template: the key as written, then the id as a JSON string (its
        # backslashes doubled, since the template reads them as escapes).
        self._replacement = rb"\g<1>" + orjson.dumps(name).replace(b"\\", b"\\\\")

    def bytes(self, data: bytes) -> bytes:
        """`data` with the string value of every `model` key set to the public id."""
        return _MODEL_VALUE.sub(self._replacement, data)

    def differs(self, payload: object) -> bool:
        """Whether a parsed object names another model than the public one (a rewrite is due)."""
        if not isinstance(payload, dict):
            return False
        model = payload.get("model")
        return isinstance(model, str) and model != self.name
