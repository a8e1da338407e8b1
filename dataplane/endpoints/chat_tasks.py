"""What the utility endpoints served by a chat model share (translations, classifications, OCR).

Each is a translated endpoint: the request becomes an OpenAI chat body (a system instruction and
the user's material), so it works on every provider kind, and the chat model's reply becomes the
endpoint's JSON answer. They bill as that chat model's tokens; `max_tokens` (optional) caps the
model's reply, else the model's or the gateway's default cap is held. `model` is optional: without
it the operator's model for the endpoint applies (`tollgate utility set <endpoint> MODEL`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from dataplane.billing import Reservation
from dataplane.bodies import MAX_OUTPUT_TOKENS, bounded_int, bounded_prompt
from dataplane.endpoints.assigned import assigned_model
from dataplane.endpoints.base import Call, Endpoint
from dataplane.errors import bad_request, upstream_error
from dataplane.snapshot import ModelInfo, Snapshot
from dataplane.tokens import chat_prompt_bound, estimate_prompt_tokens
from shared.money import TokenUsage

MAX_LABEL_CHARS = 64  # languages and labels are short names, not text to work on


@dataclass
class Task:
    """One utility request: the chat messages that stand for it, and what its answer needs."""

    messages: list[dict[str, Any]]
    wanted: dict[str, Any] = field(default_factory=dict)


def optional_model(body: dict[str, Any]) -> str:
    """The body's `model`, or "" when it names none (then the endpoint's assigned model applies)."""
    model = body.get("model")
    if model is None:
        return ""
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "`model` must be a model id (a string) when given.")
    return model


def required_text(body: dict[str, Any], name: str) -> str:
    """A non-empty string field; 400 naming it otherwise."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(name, f"`{name}` must be a non-empty string.")
    return value


def short_name(body: dict[str, Any], name: str, required: bool) -> str | None:
    """A language or label name: a non-empty string of at most MAX_LABEL_CHARS characters."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL_CHARS:
        raise bad_request(
            name, f"`{name}` must be a non-empty string of at most {MAX_LABEL_CHARS} characters."
        )
    return value.strip()


def reply_text(completion: dict[str, Any]) -> str:
    """The text of a chat completion's first choice; 502 when there is none."""
    choices = completion.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise upstream_error("The model's reply has no text.")
    return content


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a model replied with, also inside a code fence or around prose; None if none."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        value = orjson.loads(text[start : end + 1])
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def usage_json(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


class ChatTask(Endpoint):
    """A utility endpoint answered by a chat model; subclasses say how to ask and how to read the answer."""

    modality = "chat"

    def task(self, body: dict[str, Any]) -> Task:
        """Check the body (400 naming the bad field) and write the chat messages for it."""
        raise NotImplementedError

    def answer(self, call: Call, text: str) -> dict[str, Any]:
        """The endpoint's answer from the model's reply text (502 when it cannot be read)."""
        raise NotImplementedError

    def reply_format(self, call: Call, model: ModelInfo) -> dict[str, Any] | None:
        """A `response_format` for the chat body, if the endpoint wants one from this model."""
        return None

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        model = optional_model(body)
        cap = bounded_int(body, "max_tokens", 1, MAX_OUTPUT_TOKENS)
        task = self.task(body)
        chat = {"messages": task.messages}
        bound = bounded_prompt(chat_prompt_bound(orjson.dumps(chat), chat))
        return Call(model, False, bound, cap, task)

    def default_model(self, snapshot: Snapshot) -> str:
        return assigned_model(snapshot, self.name)

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": call.model,
            "messages": call.parsed.messages,
            "max_completion_tokens": r.output_cap,
        }
        response_format = self.reply_format(call, r.model)
        if response_format is not None:
            body["response_format"] = response_format
        return body

    def from_chat(
        self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage
    ) -> dict[str, Any]:
        return {**self.answer(call, reply_text(completion)), "model": call.model, "usage": usage_json(usage)}

    def counted_prompt(self, call: Call) -> int:
        return estimate_prompt_tokens({"messages": call.parsed.messages})
