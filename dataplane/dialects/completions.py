"""Legacy text completions (PROTOCOL §4.7): checking them, and translating them onto chat completions.

Natively the body passes through. Translated, one prompt becomes a user message; with `suffix`
(fill-in-the-middle, as IDE autocomplete sends it) a system message asks for exactly the text
that goes between the prompt and the suffix, and both are given, clearly delimited. What chat
completions cannot say (several prompts, token prompts, `echo`, `logprobs`, `best_of`) is a 400
naming the field on such routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dataplane.bodies import MAX_N, MAX_OUTPUT_TOKENS, bounded_int, stream_flags, text_or_tokens
from dataplane.errors import bad_request
from dataplane.tokens import estimate_tokens
from shared.money import TokenUsage

FILL_IN = (
    "You complete code and text in place. Reply with only the text that belongs between <prefix> and "
    "<suffix>: no explanations, no repetition of either part, no code fences."
)
CHAT_FIELDS = ("stop", "temperature", "top_p", "seed", "user", "n", "presence_penalty", "frequency_penalty")


@dataclass
class CompletionsRequest:
    """A completions body and what billing and streaming need from it."""

    raw: bytes
    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool
    requested_cap: int | None
    n: int


def parse_completions(raw: bytes, body: dict[str, Any]) -> CompletionsRequest:
    """Check a completions body; 400 naming the bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "you must provide a model parameter (a string).")
    if not text_or_tokens(body.get("prompt")):
        raise bad_request("prompt", "`prompt` must be a string, a list of strings, or token arrays.")
    if body.get("suffix") is not None and not isinstance(body["suffix"], str):
        raise bad_request("suffix", "`suffix` must be a string.")
    stream, usage = stream_flags(body)
    cap = bounded_int(body, "max_tokens", 1, MAX_OUTPUT_TOKENS)
    n = bounded_int(body, "n", 1, MAX_N) or 1
    bounded_int(body, "logprobs", 0, 5)
    best_of = bounded_int(body, "best_of", 1, 20)
    if best_of is not None and best_of < n:
        raise bad_request("best_of", "`best_of` must be at least `n`.")
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high
        ):
            raise bad_request(name, f"`{name}` must be a number from {low} to {high}.")
    # best_of generates that many completions upstream, and each is paid for.
    return CompletionsRequest(raw, body, model, stream, usage, cap, max(n, best_of or 1))


def _one_prompt(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        raise bad_request("prompt", "this model takes one prompt per request; send the prompts one by one.")
    raise bad_request("prompt", "token prompts need a provider that serves /v1/completions.")


def to_chat_body(req: CompletionsRequest, output_cap: int) -> dict[str, Any]:
    """A chat completion body for a one-prompt completions request."""
    body = req.body
    for name, allowed in (("echo", (None, False)), ("logprobs", (None,)), ("best_of", (None, 1))):
        if body.get(name) not in allowed:
            raise bad_request(name, f"`{name}` needs a provider that serves /v1/completions.")
    prompt = _one_prompt(body["prompt"])
    suffix = body.get("suffix")
    if suffix:
        messages = [
            {"role": "system", "content": FILL_IN},
            {"role": "user", "content": f"<prefix>{prompt}</prefix><suffix>{suffix}</suffix>"},
        ]
    else:
        messages = [{"role": "user", "content": prompt}]
    out: dict[str, Any] = {"model": req.model, "messages": messages, "max_tokens": output_cap}
    out.update({name: body[name] for name in CHAT_FIELDS if body.get(name) is not None})
    if req.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _usage(usage: TokenUsage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def to_text_completion(
    completion: dict[str, Any], model: str, created: int, usage: TokenUsage
) -> dict[str, Any]:
    """A `text_completion` for a chat completion (one choice per chat choice)."""
    choices = []
    for i, choice in enumerate(completion.get("choices") or ()):
        message = choice.get("message") if isinstance(choice, dict) else None
        text = message.get("content") if isinstance(message, dict) else None
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        choices.append({"text": text or "", "index": i, "logprobs": None, "finish_reason": finish or "stop"})
    return {
        "id": "cmpl-" + str(completion.get("id") or "").removeprefix("chatcmpl-"),
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": _usage(usage),
    }


class CompletionsEncoder:
    """Chat chunks → legacy completion chunks (`data:` lines, then `[DONE]`)."""

    def __init__(self, model: str, created: int, include_usage: bool) -> None:
        self.model = model
        self.created = created
        self.include_usage = include_usage
        self.id = "cmpl-"
        self.indexes: set[int] = {0}  # the choices seen
        self.finish_seen = False

    def feed(self, chunk: dict[str, Any]) -> bytes:
        """The completion chunk for one chat chunk (the usage chunk only when it was asked for)."""
        if chunk.get("id"):
            self.id = "cmpl-" + str(chunk["id"]).removeprefix("chatcmpl-")
        base = {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model}
        choices = chunk.get("choices")
        if not choices:
            if not self.include_usage or not isinstance(chunk.get("usage"), dict):
                return b""
            return b"data: " + orjson.dumps({**base, "choices": [], "usage": chunk["usage"]}) + b"\n\n"
        out = []
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            text = delta.get("content") if isinstance(delta, dict) else None
            finish = choice.get("finish_reason") if isinstance(choice, dict) else None
            if text or finish:
                index = choice.get("index", 0)
                self.indexes.add(index if isinstance(index, int) else 0)
                self.finish_seen = self.finish_seen or bool(finish)
                out.append({"text": text or "", "index": index, "logprobs": None, "finish_reason": finish})
        return b"data: " + orjson.dumps({**base, "choices": out}) + b"\n\n" if out else b""

    def done(self, usage: TokenUsage, finish_reason: str | None) -> bytes:
        """The end; a stream the relay cut at the paid cap first gets its "length" finish (and usage)."""
        out = b""
        if finish_reason == "length" and not self.finish_seen:
            base = {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model}
            choices = [
                {"text": "", "index": i, "logprobs": None, "finish_reason": "length"}
                for i in sorted(self.indexes)
            ]
            out = b"data: " + orjson.dumps({**base, "choices": choices}) + b"\n\n"
            if self.include_usage:
                out += b"data: " + orjson.dumps({**base, "choices": [], "usage": _usage(usage)}) + b"\n\n"
        return out + b"data: [DONE]\n\n"


def completion_tokens_of(payload: dict[str, Any]) -> int:
    """An estimate of the output tokens of a native text_completion reply."""
    return sum(
        estimate_tokens(c["text"])
        for c in payload.get("choices") or ()
        if isinstance(c, dict) and isinstance(c.get("text"), str)
    )
