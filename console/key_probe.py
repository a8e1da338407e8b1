"""A customer's test call through the data plane (one output token, 16 on the Responses API): the reply,
its tokens and its charge.

The key is pasted into the Docs page for this one call: it goes in the request's auth header and
nowhere else (not the database, not a log, not the page sent back). The call goes to the public
base URL, so it checks what the customer's tools will reach, on the API the chosen tool speaks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shared.models import UsageRecord

PROMPT = "Reply with the word OK."
TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 3.0
# The data plane settles in batches a few milliseconds apart; wait this long for the usage record.
CHARGE_WAIT_S = 3.0
CHARGE_POLL_S = 0.05
MAX_KEY_CHARS = 200
# OpenAI's own Responses API refuses a max_output_tokens below 16, so a Responses test asks for 16.
RESPONSES_MIN_TOKENS = 16

Json = dict[str, Any]


def _messages_body(model: str) -> Json:
    """Chat completions and Anthropic Messages take the same one-message body."""
    return {"model": model, "messages": [{"role": "user", "content": PROMPT}]}


def _responses_body(model: str) -> Json:
    return {"model": model, "input": PROMPT, "store": False}


def _chat_text(reply: Json) -> str:
    choices = reply.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


def _messages_text(reply: Json) -> str:
    return "".join(b.get("text", "") for b in reply.get("content") or [] if b.get("type") == "text")


def _responses_text(reply: Json) -> str:
    parts = [p for item in reply.get("output") or [] for p in item.get("content") or []]
    return "".join(p.get("text", "") for p in parts if p.get("type") == "output_text")


@dataclass(frozen=True)
class Wire:
    """One gateway API: where the call goes, its body, how the key is sent and how the reply reads."""

    label: str
    path: str
    body: Callable[[str], Json]
    text: Callable[[Json], str]
    tokens: tuple[str, str]  # the usage fields holding the prompt and completion tokens
    cap: tuple[str, int]  # the body's output limit and its value, as the page names them
    headers: tuple[tuple[str, str], ...] = ()
    key_header: str = "Authorization"

    def payload(self, model: str) -> Json:
        """The test call's body: one short prompt and the output limit."""
        return {**self.body(model), self.cap[0]: self.cap[1]}

    def auth(self, key: str) -> dict[str, str]:
        value = f"Bearer {key}" if self.key_header == "Authorization" else key
        return {**dict(self.headers), self.key_header: value}


WIRES = {
    "chat": Wire("Chat completions", "/v1/chat/completions", _messages_body, _chat_text,
                 ("prompt_tokens", "completion_tokens"), ("max_tokens", 1)),
    "messages": Wire("Anthropic Messages", "/v1/messages", _messages_body, _messages_text,
                     ("input_tokens", "output_tokens"), ("max_tokens", 1),
                     (("anthropic-version", "2023-06-01"),), "x-api-key"),
    "responses": Wire("Responses", "/v1/responses", _responses_body, _responses_text,
                      ("input_tokens", "output_tokens"), ("max_output_tokens", RESPONSES_MIN_TOKENS)),
}  # fmt: skip

# What each refusal means for the customer, and what to do about it.
REFUSALS = {
    400: _l("The gateway refused the request."),
    401: _l(
        "The gateway does not accept this key: it is wrong, revoked or expired. "
        "Copy it again from the API keys page."
    ),
    402: _l("Your balance cannot cover this call. Top up on the Billing page."),
    403: _l("This key (or your group) may not use this model, or the key reached its spend cap."),
    404: _l("The gateway has no model with this id. Pick one of the models listed above."),
    413: _l("The gateway refused the request as too large."),
    429: _l("Too many requests for this key right now. Wait a few seconds and try again."),
}
FAILED = _l("The model's providers failed to answer. Try again; the Status page shows their health.")


@dataclass(frozen=True)
class Outcome:
    """What the test call showed: the reply and its charge, or what went wrong."""

    ok: bool
    wire: str
    model: str
    status: int | None = None
    message: str = ""  # what went wrong, for the customer
    detail: str = ""  # the gateway's own error message
    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_id: str = ""
    charge: int | None = None  # nano-USD, from the usage record; None while it is not written yet


def refused(wire: str, model: str, message: str, status: int | None = None, detail: str = "") -> Outcome:
    return Outcome(False, wire, model, status=status, message=message, detail=detail)


def check_key(key: str) -> str:
    """What is wrong with a pasted key ("" if nothing): it must be one printable token."""
    if not key:
        return _("Paste a key first.")
    if len(key) > MAX_KEY_CHARS or not key.isascii() or not key.isprintable() or " " in key:
        return _("That does not look like an API key: paste the whole key, with nothing around it.")
    return ""


def probe(base_url: str, wire_name: str, model: str, key: str, timeout_s: float = TIMEOUT_S) -> Outcome:
    """Make the one-token call with `key` on the wire `wire_name` and read what came back."""
    wire = WIRES[wire_name]
    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    try:
        response = httpx.post(base_url + wire.path, json=wire.payload(model), headers=wire.auth(key),
                              timeout=timeout)  # fmt: skip
    except httpx.TimeoutException:
        seconds = f"{timeout_s:g}"
        return refused(
            wire_name,
            model,
            _("The gateway did not answer within %(seconds)s s. Try again.", seconds=seconds),
        )
    except httpx.RequestError:
        return refused(wire_name, model, _("Could not reach the gateway at %(url)s.", url=base_url))
    return read(wire_name, model, response, base_url)


def read(wire_name: str, model: str, response: httpx.Response, base_url: str) -> Outcome:
    """The outcome of a finished call: the reply, its tokens and charge, or the refusal."""
    body = _json(response)
    if response.status_code >= 400:
        message = str(REFUSALS.get(response.status_code, FAILED))
        return refused(wire_name, model, message, response.status_code, _error_message(body))
    if response.status_code != 200 or not body:
        # A redirect or an HTML page: the public base URL leads somewhere that is not the data plane.
        not_an_api = _(
            "%(base_url)s did not answer as the gateway's API does. The operator's TOLLGATE_PUBLIC_BASE_URL "
            "may point somewhere else.",
            base_url=base_url,
        )
        return refused(wire_name, model, not_an_api, response.status_code)
    wire = WIRES[wire_name]
    usage = body.get("usage") or {}
    request_id = response.headers.get("request-id", "")
    return Outcome(
        True,
        wire_name,
        model,
        status=response.status_code,
        text=wire.text(body),
        prompt_tokens=int(usage.get(wire.tokens[0]) or 0),
        completion_tokens=int(usage.get(wire.tokens[1]) or 0),
        request_id=request_id,
        charge=charge_of(request_id),
    )


def charge_of(request_id: str) -> int | None:
    """What the call was charged, once the data plane's settlement has written its usage record."""
    deadline = time.monotonic() + CHARGE_WAIT_S
    while request_id:
        record = UsageRecord.get_or_none(UsageRecord.request_id == request_id)
        if record is not None:
            return record.charge
        if time.monotonic() > deadline:
            return None
        time.sleep(CHARGE_POLL_S)
    return None


def _json(response: httpx.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_message(body: Json) -> str:
    error = body.get("error")
    return str(error.get("message") or "") if isinstance(error, dict) else ""
