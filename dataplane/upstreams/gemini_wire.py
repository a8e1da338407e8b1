"""Gemini's wire format, to and from OpenAI chat completions and embeddings (no I/O).

Requests: system and developer messages become `systemInstruction`; assistant turns are `model`
turns; tool calls become `functionCall` parts and tool messages `functionResponse` parts (found
by the id of the call they answer); images are `inlineData` (data URLs) or `fileData` (other
URLs); JSON schemas go as `parametersJsonSchema` / `responseJsonSchema`, which take JSON Schema
as it is. `maxOutputTokens` is always sent: the client's cap, or the one billing paid for.

Replies: candidates become choices; function calls get ids (`call_…`); a call's thought
signature, which Gemini wants back with the call on the next turn, rides in its id after
`SIGNATURE_MARK`. Usage: Gemini's `candidatesTokenCount` leaves out the thinking tokens, so
completion tokens are candidates + thoughts (thoughts are also the reasoning tokens).

Embeddings: `/embeddings` bodies become one `batchEmbedContents` call; the reply is read back
by `openai_embeddings`.
"""

from __future__ import annotations

import mimetypes
import secrets
import time
from typing import Any

import orjson

from dataplane.errors import bad_request
from shared.money import TokenUsage

EMBEDDINGS_PATH = "/embeddings"
SIGNATURE_MARK = "__sig__"
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "content_filter",
}
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24_576}
TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_gemini(metadata: Any) -> TokenUsage | None:
    """What a `usageMetadata` says was used (None when there is none)."""
    if not isinstance(metadata, dict) or "promptTokenCount" not in metadata:
        return None
    thoughts = _count(metadata.get("thoughtsTokenCount"))
    audio = 0
    for detail in metadata.get("promptTokensDetails") or ():
        if isinstance(detail, dict) and detail.get("modality") == "AUDIO":
            audio += _count(detail.get("tokenCount"))
    return TokenUsage(
        # Tool-use prompt tokens (e.g. search results read) are input Gemini bills too.
        prompt_tokens=_count(metadata.get("promptTokenCount"))
        + _count(metadata.get("toolUsePromptTokenCount")),
        completion_tokens=_count(metadata.get("candidatesTokenCount")) + thoughts,
        cached_tokens=_count(metadata.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_input_tokens=audio,
    )


def openai_usage_fields(usage: TokenUsage) -> dict[str, Any]:
    """OpenAI's `usage` object for a Gemini usage."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "audio_tokens": usage.audio_input_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def model_path(model: str) -> str:
    """`/models/<name>` for an upstream model (which may be written `models/<name>` already)."""
    return "/models/" + model.removeprefix("models/")


# --- OpenAI chat → Gemini -------------------------------------------------------------------


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _url_part(url: str, param: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        mime, _, data = url[5:].partition(";base64,")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if not url.startswith(("http://", "https://", "gs://")):
        raise bad_request(param, "an image URL must be an http(s) URL or a base64 data URL.")
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _user_parts(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for k, part in enumerate(content if isinstance(content, list) else []):
        kind = part.get("type") if isinstance(part, dict) else None
        param = f"messages[{index}].content[{k}]"
        if kind == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url") if isinstance(part.get("image_url"), dict) else {}
            parts.append(_url_part(str(image.get("url", "")), param))
        elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
            audio = part["input_audio"]
            mime = "audio/" + str(audio.get("format") or "wav")
            parts.append({"inlineData": {"mimeType": mime, "data": str(audio.get("data", ""))}})
        elif kind == "file" and isinstance(part.get("file"), dict) and part["file"].get("file_data"):
            parts.append(_url_part(str(part["file"]["file_data"]), param))
        else:
            raise bad_request(param, f"content parts of type {kind!r} are not supported by this model.")
    return parts


def _call_part(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    try:
        args = orjson.loads(function.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        args = {}
    part: dict[str, Any] = {"functionCall": {"name": function.get("name"), "args": args}}
    _, mark, signature = str(call.get("id") or "").partition(SIGNATURE_MARK)
    if mark and signature:
        part["thoughtSignature"] = signature
    return part


def _response(content: Any) -> dict[str, Any]:
    """A tool message's content as a functionResponse's `response` (which must be an object)."""
    text = _text(content)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def _append(turns: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    # Gemini wants turns to alternate, and parallel calls' answers in one turn.
    if turns and turns[-1]["role"] == role:
        turns[-1]["parts"].extend(parts)
    elif parts:
        turns.append({"role": role, "parts": list(parts)})


def to_contents(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The system text and the Gemini `contents` of OpenAI chat messages."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id → function name
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "assistant":
            parts = [{"text": _text(message.get("content"))}] if _text(message.get("content")) else []
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict):
                    part = _call_part(call)
                    names[str(call.get("id"))] = part["functionCall"]["name"]
                    parts.append(part)
            _append(turns, "model", parts)
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")))
            if name is None:
                raise bad_request(
                    f"messages[{i}].tool_call_id", "this tool message answers no earlier tool call."
                )
            response = {"functionResponse": {"name": name, "response": _response(message.get("content"))}}
            _append(turns, "user", [response])
        else:
            _append(turns, "user", _user_parts(message.get("content"), i))
    return "\n\n".join(s for s in system if s), turns


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            declaration: dict[str, Any] = {"name": function.get("name")}
            if function.get("description"):
                declaration["description"] = function["description"]
            if function.get("parameters"):
                declaration["parametersJsonSchema"] = function["parameters"]
            declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in TOOL_MODES:
        return {"functionCallingConfig": {"mode": TOOL_MODES[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def _response_format(config: dict[str, Any], response_format: Any) -> None:
    if not isinstance(response_format, dict):
        return
    if response_format.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    elif response_format.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            config["responseJsonSchema"] = schema


def _generation_config(body: dict[str, Any], output_cap: int) -> dict[str, Any]:
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    config: dict[str, Any] = {"maxOutputTokens": min(requested or output_cap, output_cap)}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if isinstance(body.get(ours), int | float) and not isinstance(body.get(ours), bool):
            config[theirs] = body[ours]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if (body.get("n") or 1) > 1:
        config["candidateCount"] = body["n"]
    _response_format(config, body.get("response_format"))
    budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


def to_gemini_body(body: dict[str, Any], output_cap: int) -> dict[str, Any]:
    """A Gemini `generateContent` request for an OpenAI chat body."""
    system, contents = to_contents(body["messages"])
    out: dict[str, Any] = {"contents": contents, "generationConfig": _generation_config(body, output_cap)}
    if system:
        out["systemInstruction"] = {"parts": [{"text": system}]}
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
    config = _tool_config(body.get("tool_choice"))
    if config is not None:
        out["toolConfig"] = config
    return out


# --- Gemini → OpenAI chat -------------------------------------------------------------------


def call_id(function_call: dict[str, Any], part: dict[str, Any]) -> str:
    """The OpenAI id of a Gemini function call (its own id, or a new one), with its thought signature."""
    base = str(function_call.get("id") or "call_" + secrets.token_hex(12))
    signature = part.get("thoughtSignature")
    return base + SIGNATURE_MARK + signature if isinstance(signature, str) and signature else base


def tool_call(part: dict[str, Any]) -> dict[str, Any]:
    function_call = part["functionCall"]
    arguments = orjson.dumps(function_call.get("args") or {}).decode()
    return {
        "id": call_id(function_call, part),
        "type": "function",
        "function": {"name": function_call.get("name"), "arguments": arguments},
    }


def candidate_parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content") if isinstance(candidate.get("content"), dict) else {}
    return [p for p in content.get("parts") or () if isinstance(p, dict)]


def finish_reason(candidate: dict[str, Any], called: bool) -> str | None:
    """The OpenAI finish reason of a candidate (None while it is still being written)."""
    reason = candidate.get("finishReason")
    if not reason:
        return None
    mapped = FINISH_REASONS.get(str(reason), "stop")
    return "tool_calls" if called and mapped == "stop" else mapped


def _choice(index: int, candidate: dict[str, Any]) -> dict[str, Any]:
    parts = candidate_parts(candidate)
    text = "".join(str(p.get("text", "")) for p in parts if "text" in p and not p.get("thought"))
    thoughts = "".join(str(p.get("text", "")) for p in parts if "text" in p and p.get("thought"))
    calls = [tool_call(p) for p in parts if isinstance(p.get("functionCall"), dict)]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if thoughts:
        message["reasoning_content"] = thoughts
    if calls:
        message["tool_calls"] = calls
    finish = finish_reason(candidate, bool(calls)) or "stop"
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


def to_completion(payload: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat.completion for a Gemini GenerateContentResponse."""
    candidates = [c for c in payload.get("candidates") or () if isinstance(c, dict)]
    choices = [
        _choice(c.get("index", i) if isinstance(c.get("index"), int) else i, c)
        for i, c in enumerate(candidates)
    ]
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason)
        message = {"role": "assistant", "content": None, "refusal": None}
        choices = [{"index": 0, "message": message, "logprobs": None, "finish_reason": "content_filter"}]
    completion: dict[str, Any] = {
        "id": "chatcmpl-" + str(payload.get("responseId") or secrets.token_hex(12)),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("modelVersion"),
        "choices": choices,
    }
    usage = usage_from_gemini(payload.get("usageMetadata"))
    if usage is not None:
        completion["usage"] = openai_usage_fields(usage)
    return completion


# --- Embeddings -----------------------------------------------------------------------------


def to_batch_embed(body: dict[str, Any], model: str) -> dict[str, Any]:
    """A `batchEmbedContents` request for an OpenAI embeddings body (text inputs only)."""
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not all(isinstance(t, str) for t in texts):
        raise bad_request("input", "this model takes text input only, not token arrays.")
    name = "models/" + model.removeprefix("models/")
    requests = []
    for text in texts:
        request: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if isinstance(body.get("dimensions"), int):
            request["outputDimensionality"] = body["dimensions"]
        requests.append(request)
    return {"requests": requests}


def openai_embeddings(
    payload: dict[str, Any], model: str, counted_prompt: int
) -> tuple[dict[str, Any], TokenUsage | None]:
    """An OpenAI embeddings reply for a `batchEmbedContents` reply, and the usage it reports.

    Gemini's API reports no tokens for embeddings (None then): the reply's usage shows the
    gateway's own count, which is what is billed.
    """
    usage = usage_from_gemini(payload.get("usageMetadata"))
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": (item.get("values") if isinstance(item, dict) else None) or [],
        }
        for i, item in enumerate(payload.get("embeddings") or ())
    ]
    tokens = usage.prompt_tokens if usage is not None else counted_prompt
    reply = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return reply, usage
