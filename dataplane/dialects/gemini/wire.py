"""Gemini `generateContent` bodies: checking them, and translating them to and from chat completions.

Gemini's REST API takes field names in camelCase or snake_case; the top-level fields and those
of `generationConfig` are rewritten to camelCase once (`parse_generate`), so native routes get
one spelling and the rest of the gateway reads one. Inside parts both spellings are read.

Translated routes (any provider that is not Gemini): `contents` become chat messages (`model`
turns are assistant messages, `functionCall` parts tool calls, `functionResponse` parts tool
messages, media parts image, audio or file parts), `generationConfig` the sampling fields, and
function declarations function tools. A chat completion comes back as a GenerateContentResponse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from dataplane.bodies import MAX_N, MAX_OUTPUT_TOKENS, bounded_int
from dataplane.errors import bad_request
from shared.money import TokenUsage

FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
TOOL_CHOICES = {"AUTO": "auto", "ANY": "required", "NONE": "none", "VALIDATED": "auto"}
AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}
# Gemini's reasoning budgets, read as OpenAI's efforts (at most this many thinking tokens).
EFFORTS = ((1024, "low"), (8192, "medium"))


@dataclass
class GenerateRequest:
    """A checked generateContent body (camelCase at the top and in generationConfig)."""

    body: dict[str, Any]
    stream: bool
    max_output_tokens: int | None
    candidate_count: int


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def field(obj: Any, name: str) -> Any:
    """`obj[name]` under its camelCase or its snake_case spelling (None when neither, or not an object)."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(name)
    return obj.get(snake(name)) if value is None else value


def _camel_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {camel(key): value for key, value in obj.items()}


def _check_contents(contents: Any) -> None:
    if not isinstance(contents, list) or not contents:
        raise bad_request("contents", "`contents` must be a non-empty array of Content objects.")
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list):
            raise bad_request(f"contents[{i}].parts", "each content must be an object with a `parts` array.")
        if content.get("role") not in (None, "user", "model", "function"):
            raise bad_request(f"contents[{i}].role", '`role` must be "user" or "model".')
        for k, part in enumerate(content["parts"]):
            if not isinstance(part, dict):
                raise bad_request(f"contents[{i}].parts[{k}]", "each part must be an object.")


def parse_generate(body: dict[str, Any], stream: bool) -> GenerateRequest:
    """Check a generateContent body (400 naming the bad field) and normalise its field names."""
    body = _camel_keys(body)
    _check_contents(body.get("contents"))
    config = body.get("generationConfig")
    if config is not None and not isinstance(config, dict):
        raise bad_request("generationConfig", "`generationConfig` must be an object.")
    config = _camel_keys(config or {})
    if config:
        body["generationConfig"] = config
    max_output = bounded_int(
        config, "maxOutputTokens", 1, MAX_OUTPUT_TOKENS, "generationConfig.maxOutputTokens"
    )
    count = bounded_int(config, "candidateCount", 1, MAX_N, "generationConfig.candidateCount") or 1
    return GenerateRequest(body, stream, max_output, count)


def system_text(instruction: Any) -> str:
    """The text of a `systemInstruction` (a Content, or a plain string)."""
    if isinstance(instruction, str):
        return instruction
    parts = field(instruction, "parts") or ()
    return "\n".join(str(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


# --- Gemini → OpenAI chat -------------------------------------------------------------------


def _media_part(part: dict[str, Any], param: str) -> dict[str, Any]:
    inline = field(part, "inlineData")
    if isinstance(inline, dict):
        mime, data = str(field(inline, "mimeType") or ""), str(inline.get("data") or "")
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
        if mime in AUDIO_FORMATS:
            return {"type": "input_audio", "input_audio": {"data": data, "format": AUDIO_FORMATS[mime]}}
        extension = mime.rpartition("/")[2] or "bin"
        return {
            "type": "file",
            "file": {"filename": f"file.{extension}", "file_data": f"data:{mime};base64,{data}"},
        }
    file_data = field(part, "fileData")
    mime = str(field(file_data, "mimeType") or "")
    if isinstance(file_data, dict) and (not mime or mime.startswith("image/")):
        return {"type": "image_url", "image_url": {"url": str(field(file_data, "fileUri") or "")}}
    raise bad_request(param, "this model takes text, inline media and image URLs only.")


class _Calls:
    """The function calls of the conversation so far that no functionResponse has answered."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []  # (id, name)

    def add(self, call: dict[str, Any], turn: int, index: int) -> str:
        call_id = str(call.get("id") or f"call_{turn}_{index}")
        self.pending.append((call_id, str(call.get("name") or "")))
        return call_id

    def answer(self, response: dict[str, Any], param: str) -> str:
        wanted_id, name = response.get("id"), response.get("name")
        for entry in self.pending:
            if entry[0] == wanted_id or (wanted_id is None and entry[1] == name):
                self.pending.remove(entry)
                return entry[0]
        raise bad_request(param, "this functionResponse answers no earlier functionCall.")


def _model_message(parts: list[dict[str, Any]], turn: int, calls: _Calls) -> dict[str, Any]:
    text = "".join(str(p["text"]) for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    tool_calls = []
    for k, part in enumerate(parts):
        call = field(part, "functionCall")
        if isinstance(call, dict):
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name"), "arguments": arguments}
            tool_calls.append({"id": calls.add(call, turn, k), "type": "function", "function": function})
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _user_messages(parts: list[dict[str, Any]], turn: int, calls: _Calls) -> list[dict[str, Any]]:
    """A user turn: its function responses as tool messages (first, as OpenAI wants), then the rest."""
    tools, content = [], []
    for k, part in enumerate(parts):
        param = f"contents[{turn}].parts[{k}]"
        response = field(part, "functionResponse")
        if isinstance(response, dict):
            call_id = calls.answer(response, param + ".functionResponse")
            result = orjson.dumps(response.get("response") or {}).decode()
            tools.append({"role": "tool", "tool_call_id": call_id, "content": result})
        elif isinstance(part.get("text"), str):
            content.append({"type": "text", "text": part["text"]})
        else:
            content.append(_media_part(part, param))
    if content:
        tools.append({"role": "user", "content": content})
    return tools


def json_schema(schema: Any) -> Any:
    """A Gemini (OpenAPI-style) schema as JSON Schema: lower-case types; Gemini-only keys dropped."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        key = camel(key)
        if key == "propertyOrdering":
            continue
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf"):
            out[key] = json_schema(value)
        else:
            out[key] = value
    return out


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        declarations = field(tool, "functionDeclarations")
        if not isinstance(declarations, list):
            raise bad_request(f"tools[{i}]", "this model takes function declarations only as tools.")
        for declaration in declarations:
            if not isinstance(declaration, dict):
                continue
            function: dict[str, Any] = {"name": declaration.get("name")}
            if declaration.get("description"):
                function["description"] = declaration["description"]
            parameters = field(declaration, "parametersJsonSchema") or json_schema(
                declaration.get("parameters")
            )
            function["parameters"] = parameters or {"type": "object", "properties": {}}
            out.append({"type": "function", "function": function})
    return out


def _tool_choice(tool_config: Any) -> Any:
    config = field(tool_config, "functionCallingConfig")
    mode = str(field(config, "mode") or "").upper()
    names = field(config, "allowedFunctionNames")
    if mode == "ANY" and isinstance(names, list) and len(names) == 1:
        return {"type": "function", "function": {"name": names[0]}}
    return TOOL_CHOICES.get(mode)


def _effort(thinking: Any) -> str | None:
    budget = field(thinking, "thinkingBudget")
    level = field(thinking, "thinkingLevel")
    if isinstance(level, str) and level.lower() in ("minimal", "low", "medium", "high"):
        return level.lower()
    if not isinstance(budget, int) or budget <= 0:
        return None  # off, or dynamic: left to the model
    return next((effort for limit, effort in EFFORTS if budget <= limit), "high")


def _sampling(out: dict[str, Any], config: dict[str, Any]) -> None:
    for theirs, ours in (
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("seed", "seed"),
        ("presencePenalty", "presence_penalty"),
        ("frequencyPenalty", "frequency_penalty"),
    ):
        if isinstance(config.get(theirs), int | float) and not isinstance(config.get(theirs), bool):
            out[ours] = config[theirs]
    if config.get("stopSequences"):
        out["stop"] = list(config["stopSequences"])
    if (config.get("candidateCount") or 1) > 1:
        out["n"] = config["candidateCount"]
    schema = config.get("responseJsonSchema") or json_schema(config.get("responseSchema"))
    if schema:
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    elif config.get("responseMimeType") == "application/json":
        out["response_format"] = {"type": "json_object"}
    effort = _effort(config.get("thinkingConfig"))
    if effort:
        out["reasoning_effort"] = effort


def to_chat_body(wanted: GenerateRequest, model: str, output_cap: int) -> dict[str, Any]:
    """An OpenAI chat completion body for a generateContent body (`model` is set per route later)."""
    body = wanted.body
    messages: list[dict[str, Any]] = []
    system = system_text(body.get("systemInstruction"))
    if system:
        messages.append({"role": "system", "content": system})
    calls = _Calls()
    for turn, content in enumerate(body["contents"]):
        if content.get("role") == "model":
            messages.append(_model_message(content["parts"], turn, calls))
        else:
            messages.extend(_user_messages(content["parts"], turn, calls))
    out: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": output_cap}
    _sampling(out, body.get("generationConfig") or {})
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
        choice = _tool_choice(body.get("toolConfig"))
        if choice is not None and out["tools"]:
            out["tool_choice"] = choice
    if wanted.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


# --- OpenAI chat → Gemini -------------------------------------------------------------------


def gemini_usage(usage: TokenUsage) -> dict[str, int]:
    """Gemini's `usageMetadata` for a usage (candidates leave the thinking tokens out)."""
    out = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": max(usage.completion_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    return out


def function_call(call: dict[str, Any], arguments: str) -> dict[str, Any]:
    """A `functionCall` part for an OpenAI tool call (arguments that are no JSON object become {})."""
    try:
        args = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        args = {}
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    part = {"name": function.get("name"), "args": args if isinstance(args, dict) else {}}
    if call.get("id"):
        part = {"id": call["id"], **part}
    return {"functionCall": part}


def _candidate(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    parts: list[dict[str, Any]] = []
    if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        parts.append({"text": message["reasoning_content"], "thought": True})
    if isinstance(message.get("content"), str) and message["content"]:
        parts.append({"text": message["content"]})
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            parts.append(function_call(call, str((call.get("function") or {}).get("arguments") or "")))
    index = choice.get("index") if isinstance(choice.get("index"), int) else 0
    return {
        "content": {"role": "model", "parts": parts},
        "finishReason": FINISH_REASONS.get(str(choice.get("finish_reason")), "STOP"),
        "index": index,
    }


def to_generate_response(
    completion: dict[str, Any], model: str, usage: TokenUsage, response_id: str
) -> dict[str, Any]:
    """A GenerateContentResponse for an OpenAI chat.completion."""
    choices = [c for c in completion.get("choices") or () if isinstance(c, dict)]
    return {
        "candidates": [_candidate(choice) for choice in choices],
        "usageMetadata": gemini_usage(usage),
        "modelVersion": model,
        "responseId": response_id,
    }


def response_id(request_id: str) -> str:
    """The responseId of a request's reply (from the request id, so logs line up)."""
    return request_id.removeprefix("req_")
