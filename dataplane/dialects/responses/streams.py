"""Responses API streams (PROTOCOL §4.8): re-told from chat chunks, or metered as they come.

Every event is `event: <type>` plus its JSON with a monotonic `sequence_number`. `ResponsesEncoder`
opens with `response.created` and `response.in_progress`, then one output item at a time
(reasoning, message, function call), each closed with its `…done` events and `output_item.done`
before the next opens, and ends with `response.completed` (or `response.incomplete` when the
output cap was hit) carrying the whole response with usage. That is what the SDK's strict
`responses.stream()` helper checks: one id throughout, distinct output indexes, every item done
before the end. `NativeResponsesMeter` reads a copy of a provider's own Responses stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from dataplane.dialects.responses.wire import (
    ResponsesRequest,
    function_call_item,
    message_item,
    new_id,
    reasoning_item,
    response_object,
    tool_names,
    usage_from_responses,
)
from dataplane.tokens import estimate_tokens
from shared.money import TokenUsage

DELTA_EVENTS = (
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.refusal.delta",
)
TERMINAL_EVENTS = ("response.completed", "response.incomplete")


class _Item:
    """One output item being streamed."""

    def __init__(
        self,
        kind: str,
        index: int,
        item_id: str,
        call_id: str = "",
        name: str = "",
        names: dict | None = None,
    ) -> None:
        self.kind = kind  # message | reasoning | function_call
        self.index = index
        self.id = item_id
        self.call_id = call_id
        self.name = name  # for a function call: the chat tool name
        self.names = names  # chat tool name → (namespace, name)
        self.text = ""

    def final(self) -> dict[str, Any]:
        if self.kind == "message":
            return message_item(self.id, self.text)
        if self.kind == "reasoning":
            return reasoning_item(self.id, self.text)
        return function_call_item(self.id, self.call_id, self.name, self.text, names=self.names)


class ResponsesEncoder:
    """Chat completion chunks → Responses events, for one stream."""

    def __init__(self, response_id: str, model: str, req: ResponsesRequest, created_at: int) -> None:
        self.response_id = response_id
        self.model = model
        self.req = req
        self.created_at = created_at
        self.sequence = 0
        self.items: list[_Item] = []
        self.open: _Item | None = None
        self.tools: dict[int, _Item] = {}  # chat tool call index → its item
        self.response: dict[str, Any] | None = None  # the final response, once finished
        self.names = tool_names(req.body.get("tools"))

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _object(self, status: str, usage: TokenUsage | None = None) -> dict[str, Any]:
        output = [item.final() for item in self.items] if status != "in_progress" else []
        return response_object(self.response_id, self.model, self.req, self.created_at, output, status, usage)

    def start(self) -> bytes:
        """The opening events."""
        response = self._object("in_progress")
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def feed(self, chunk: dict[str, Any]) -> bytes:
        """The events for one chat chunk (none for a usage-only chunk)."""
        choices = chunk.get("choices")
        delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
        if not isinstance(delta, dict):
            return b""
        out = []
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out.append(self._text("reasoning", reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(self._text("message", content))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out.append(self._tool_call(call))
        return b"".join(out)

    def _open(self, item: _Item) -> bytes:
        out = self._close()
        self.items.append(item)
        self.open = item
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            added = {
                "type": "message",
                "id": item.id,
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return (
                out
                + self._event("response.output_item.added", output_index=item.index, item=added)
                + self._event("response.content_part.added", **where, content_index=0, part=part)
            )
        if item.kind == "reasoning":
            added = {"type": "reasoning", "id": item.id, "summary": [], "status": "in_progress"}
            part = {"type": "summary_text", "text": ""}
            return (
                out
                + self._event("response.output_item.added", output_index=item.index, item=added)
                + self._event("response.reasoning_summary_part.added", **where, summary_index=0, part=part)
            )
        added = function_call_item(item.id, item.call_id, item.name, "", "in_progress", item.names)
        return out + self._event("response.output_item.added", output_index=item.index, item=added)

    def _text(self, kind: str, piece: str) -> bytes:
        out = b""
        if self.open is None or self.open.kind != kind:
            out = self._open(_Item(kind, len(self.items), new_id("msg" if kind == "message" else "rs")))
        item = self.open
        assert item is not None
        item.text += piece
        where = {"item_id": item.id, "output_index": item.index}
        if kind == "message":
            return out + self._event(
                "response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[]
            )
        return out + self._event(
            "response.reasoning_summary_text.delta", **where, summary_index=0, delta=piece
        )

    def _tool_call(self, call: dict[str, Any]) -> bytes:
        number = call.get("index") if isinstance(call.get("index"), int) else 0
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        out = b""
        item = self.tools.get(number)
        if item is None:
            call_id = str(call.get("id") or new_id("call"))
            name = str(function.get("name") or "")
            item = _Item("function_call", len(self.items), new_id("fc"), call_id, name, self.names)
            self.tools[number] = item
            out = self._open(item)
        arguments = function.get("arguments")
        if not isinstance(arguments, str) or not arguments:
            return out
        item.text += arguments
        if item is not self.open:
            return out  # a late piece of a call already closed: kept in the final item only
        return out + self._event(
            "response.function_call_arguments.delta",
            item_id=item.id,
            output_index=item.index,
            delta=arguments,
        )

    def _close(self) -> bytes:
        item, self.open = self.open, None
        if item is None:
            return b""
        where = {"item_id": item.id, "output_index": item.index}
        final = item.final()
        done = self._event("response.output_item.done", output_index=item.index, item=final)
        if item.kind == "message":
            part = {"type": "output_text", "text": item.text, "annotations": [], "logprobs": []}
            return (
                self._event(
                    "response.output_text.done", **where, content_index=0, text=item.text, logprobs=[]
                )
                + self._event("response.content_part.done", **where, content_index=0, part=part)
                + done
            )
        if item.kind == "reasoning":
            part = {"type": "summary_text", "text": item.text}
            return (
                self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=item.text)
                + self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part)
                + done
            )
        args = self._event(
            "response.function_call_arguments.done", **where, name=item.name, arguments=item.text
        )
        return args + done

    def finish(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        """Close what is open and end with the whole response."""
        out = self._close()
        status = "incomplete" if finish_reason == "length" else "completed"
        self.response = self._object(status, usage)
        return out + self._event(f"response.{status}", response=self.response)

    def fail(self, code: str, message: str) -> bytes:
        """End a stream that failed after it started."""
        response = {**self._object("failed"), "error": {"code": code, "message": message}}
        return self._event("response.failed", response=response)


class NativeResponsesMeter:
    """What a provider's own Responses stream delivered and reported, read from a copy of its events."""

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self.delivered_tokens = 0
        self.finished = False
        self.error: tuple[str, str] | None = None
        self.response: dict[str, Any] | None = None

    def feed(self, event_type: Any, payload: dict[str, Any]) -> None:
        """Account for one event."""
        if event_type in DELTA_EVENTS and isinstance(payload.get("delta"), str):
            self.delivered_tokens += estimate_tokens(payload["delta"])
        elif event_type in TERMINAL_EVENTS:
            response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
            self.usage = usage_from_responses(response.get("usage"))
            self.response = response
            self.finished = True
        elif event_type == "response.failed":
            response = payload.get("response") if isinstance(payload.get("response"), dict) else {}
            self.error = _error(response.get("error"))
            self.finished = True
        elif event_type == "error":
            self.error = _error(payload)


def _error(error: Any) -> tuple[str, str]:
    error = error if isinstance(error, dict) else {}
    return (
        str(error.get("code") or "upstream_error"),
        str(error.get("message") or "The upstream provider failed mid-stream."),
    )
