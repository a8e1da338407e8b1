"""`POST /v1/classifications`: a label and a score for each input, chosen by a chat model.

    {model?, input: str | [str], labels?: [str]} → {model, results: [{index, label, score}], usage}

With `labels` the model must choose among them (matched without regard to case, answered in
the spelling given); without, it names a short label itself. The model is asked for JSON, and
given a JSON schema when the catalogue says it follows one (the `json_schema` capability); a
reply that cannot be read as one result per input is a 502 that says what was wrong.
"""

from __future__ import annotations

from typing import Any

import orjson

from dataplane.endpoints.base import Call
from dataplane.endpoints.chat_tasks import MAX_LABEL_CHARS, ChatTask, Task, json_object
from dataplane.errors import GatewayError, bad_request, upstream_error
from dataplane.snapshot import ModelInfo

MAX_INPUTS = 100
MAX_LABELS = 100
INSTRUCTION = (
    "You classify texts. The user sends a JSON array of texts. For each text, {choice} and give your "
    "confidence that it fits as a score from 0 to 1. Reply with only a JSON object: "
    '{{"results": [{{"index": 0, "label": "...", "score": 0.9}}]}}, one result per text, in order.'
)
CHOOSE = "choose the one label that fits best from this JSON list: {labels}"
NAME = "name the category it belongs to in one to three lowercase words"


def _inputs(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise bad_request("input", "`input` must be a non-empty string or a non-empty array of them.")
    if len(items) > MAX_INPUTS:
        raise bad_request("input", f"`input` may hold at most {MAX_INPUTS} texts, got {len(items)}.")
    return items


def _labels(body: dict[str, Any]) -> list[str] | None:
    value = body.get("labels")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_LABELS
        or not all(isinstance(v, str) and v.strip() and len(v) <= MAX_LABEL_CHARS for v in value)
    ):
        raise bad_request(
            "labels",
            f"`labels` must be an array of 1 to {MAX_LABELS} non-empty strings "
            f"of at most {MAX_LABEL_CHARS} characters.",
        )
    if len({v.strip().lower() for v in value}) != len(value):
        raise bad_request("labels", "`labels` must not repeat a label.")
    return [v.strip() for v in value]


def _schema(labels: list[str] | None) -> dict[str, Any]:
    label: dict[str, Any] = {"type": "string", "enum": labels} if labels else {"type": "string"}
    result = {
        "type": "object",
        "properties": {"index": {"type": "integer"}, "label": label, "score": {"type": "number"}},
        "required": ["index", "label", "score"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {"results": {"type": "array", "items": result}},
        "required": ["results"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "classifications", "strict": True, "schema": schema},
    }


def _unreadable(why: str) -> GatewayError:
    return upstream_error(f"The model's classification could not be read: {why}.")


def _label(value: Any, labels: list[str] | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _unreadable("a result has no label")
    if labels is None:
        return value.strip()
    for label in labels:
        if label.lower() == value.strip().lower():
            return label
    raise _unreadable(f"it chose {value.strip()[:MAX_LABEL_CHARS]!r}, which is not one of the labels given")


def _score(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise _unreadable("a result has no numeric score")
    return min(max(float(value), 0.0), 1.0)


def read_results(text: str, count: int, labels: list[str] | None) -> list[dict[str, Any]]:
    """One {index, label, score} per input from the model's reply; 502 naming what is wrong."""
    found = json_object(text)
    if found is None:
        raise _unreadable("the reply is not a JSON object")
    results = found.get("results")
    if not isinstance(results, list):
        results = [found] if count == 1 and "label" in found else None
    if results is None or len(results) != count or not all(isinstance(r, dict) for r in results):
        raise _unreadable(f"it does not hold one result for each of the {count} inputs")
    indices = [r.get("index") for r in results]
    if all(type(i) is int for i in indices) and sorted(indices) == list(range(count)):
        results = sorted(results, key=lambda r: r["index"])  # the model numbered them: keep its numbering
    return [
        {"index": i, "label": _label(r.get("label"), labels), "score": _score(r.get("score"))}
        for i, r in enumerate(results)
    ]


class Classifications(ChatTask):
    name = "classifications"
    paths = ("/classifications",)

    def task(self, body: dict[str, Any]) -> Task:
        inputs = _inputs(body)
        labels = _labels(body)
        choice = CHOOSE.format(labels=orjson.dumps(labels).decode()) if labels else NAME
        messages = [
            {"role": "system", "content": INSTRUCTION.format(choice=choice)},
            {"role": "user", "content": orjson.dumps(inputs).decode()},
        ]
        return Task(messages, {"count": len(inputs), "labels": labels})

    def reply_format(self, call: Call, model: ModelInfo) -> dict[str, Any] | None:
        return _schema(call.parsed.wanted["labels"]) if "json_schema" in model.capabilities else None

    def answer(self, call: Call, text: str) -> dict[str, Any]:
        wanted = call.parsed.wanted
        return {"results": read_results(text, wanted["count"], wanted["labels"])}


ENDPOINT = Classifications()
