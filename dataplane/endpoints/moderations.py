"""`POST /v1/moderations` (PROTOCOL §4.6): served by providers that have moderations natively.

`input` is a string, an array of strings, or an array of `text` and `image_url` parts. The SDKs
send no `model` unless told to, so a call without one gets the operator's moderation model
(`tollgate utility set moderations MODEL`), else the catalogue's first moderation model by id.
The upstream's reply goes out unchanged. A call bills one `request` plus its input tokens (as the
upstream reports them, else counted); a moderation model priced 0 bills 0 and is still recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt
from dataplane.endpoints.assigned import assigned_model
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import bad_request, upstream_error
from dataplane.snapshot import RouteInfo, Snapshot
from dataplane.tokens import IMAGE_TOKENS, OVERHEAD_TOKENS, estimate_tokens
from dataplane.upstreams.base import Upstream, openai_usage
from shared.money import TokenUsage

MAX_INPUTS = 1_000
INPUT_SHAPE = "`input` must be a string, an array of strings, or an array of text and image_url parts."


@dataclass
class ModerationRequest:
    """A moderation body, with its texts and the number of images it asks about."""

    body: dict[str, Any]
    texts: list[str]
    images: int


def _part(i: int, part: Any) -> str | None:
    """A content part's text, or None for an image; 400 naming the part otherwise."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return part["text"]
    image = part.get("image_url") if kind == "image_url" else None
    if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"]:
        return None
    raise bad_request(
        f"input[{i}]",
        'each part must be {"type": "text", "text"} or {"type": "image_url", "image_url": {"url"}}.',
    )


def parse_moderation(body: dict[str, Any]) -> ModerationRequest:
    """Check a moderation body; `model` may be absent (the endpoint's default then applies)."""
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise bad_request("model", "`model` must be a model id (a string) when given.")
    value = body.get("input")
    if isinstance(value, str):
        return ModerationRequest(body, [value], 0)
    if not isinstance(value, list) or not value:
        raise bad_request("input", INPUT_SHAPE)
    if len(value) > MAX_INPUTS:
        raise bad_request("input", f"`input` may hold at most {MAX_INPUTS} items, got {len(value)}.")
    if all(isinstance(v, str) for v in value):
        return ModerationRequest(body, value, 0)
    if any(isinstance(v, str) for v in value):
        raise bad_request("input", INPUT_SHAPE)
    texts = [_part(i, part) for i, part in enumerate(value)]
    return ModerationRequest(body, [t for t in texts if t is not None], texts.count(None))


def first_moderation_model(snapshot: Snapshot) -> str | None:
    """The catalogue's first routed moderation model, by id (a stable rule an operator can predict)."""
    found = sorted(slug for slug, m in snapshot.models.items() if m.modality == "moderation" and m.routes)
    return found[0] if found else None


class Moderations(Endpoint):
    name = "moderations"
    paths = ("/moderations",)
    modality = "moderation"
    bills_output = False
    translatable = False

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        wanted = parse_moderation(body)
        text_bytes = sum(len(t.encode("utf-8")) + 1 for t in wanted.texts)
        bound = bounded_prompt(text_bytes + wanted.images * IMAGE_TOKENS + OVERHEAD_TOKENS)
        return Call(body.get("model") or "", False, bound, None, wanted, counts={"request": 1})

    def default_model(self, snapshot: Snapshot) -> str:
        return assigned_model(snapshot, self.name, first_moderation_model(snapshot))

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        body = dict(call.parsed.body)
        return adapter.native_request(route, "/moderations", body, {"x-request-id": r.caller.request_id})

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        if not isinstance(payload.get("results"), list):
            raise upstream_error("The upstream provider's moderation reply has no `results` list.")
        reported = openai_usage(payload)
        tokens = reported.prompt_tokens if reported is not None else self.counted_prompt(call)
        source = "upstream" if reported is not None else "counted"
        return NativeReply(content, TokenUsage(tokens, 0, counts=call.counts), 0, usage_source=source)

    def counted_prompt(self, call: Call) -> int:
        wanted = call.parsed
        return sum(estimate_tokens(t) for t in wanted.texts) + wanted.images * IMAGE_TOKENS


ENDPOINT = Moderations()
