"""OpenAI's Responses API bodies: checking them, and translating them to and from chat completions.

Only what the gateway relies on is checked (model, input, the output cap, stream, store, the
previous response, tools and text format); everything else passes through to OpenAI-compatible
providers. For other providers the request becomes a chat completion: `instructions` a first
system message, input items messages (function calls joined onto the assistant message before
them, function call outputs `tool` messages), function tools chat tools, `text.format` a
`response_format`, `reasoning.effort` `reasoning_effort`. The chat completion comes back as a
Response with a message item, a reasoning item and one function_call item per tool call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from dataplane.bodies import MAX_OUTPUT_TOKENS, bounded_int
from dataplane.errors import bad_request
from shared.money import TokenUsage

ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = ("input_text", "output_text", "text", "refusal", "summary_text")
NAMESPACE_JOIN = "__"
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning", "item_reference")
FORMATS = ("text", "json_schema", "json_object")


@dataclass
class ResponsesRequest:
    """A Responses body and what billing, routing and storing need from it."""

    raw: bytes
    body: dict[str, Any]
    model: str
    stream: bool
    store: bool
    previous_response_id: str | None
    max_output_tokens: int | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(name, f"`{name}` must be a number from {low:g} to {high:g}.")


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(name, f"`{name}` must be a boolean.")
    return value


def _check_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise bad_request(where, f"`{where}` must be an object.")
    kind = item.get("type", "message" if "role" in item else None)
    if kind not in ITEM_TYPES:
        raise bad_request(
            f"{where}.type", f"`{where}.type` {kind!r} is not an input item this gateway takes."
        )
    if kind == "message":
        if item.get("role") not in ROLES:
            raise bad_request(f"{where}.role", f"`{where}.role` must be one of {', '.join(ROLES)}.")
        if not isinstance(item.get("content"), str | list):
            raise bad_request(f"{where}.content", f"`{where}.content` must be a string or a list of parts.")
    elif kind == "function_call_output" and not isinstance(item.get("call_id"), str):
        raise bad_request(f"{where}.call_id", f"`{where}.call_id` must be a string.")
    elif kind == "function_call" and not isinstance(item.get("call_id"), str):
        raise bad_request(f"{where}.call_id", f"`{where}.call_id` must be a string.")


def _check_input(value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise bad_request("input", "`input` must be a string or a non-empty list of input items.")
    for i, item in enumerate(value):
        _check_item(item, f"input[{i}]")


def _check_text(text: Any) -> None:
    if text is None:
        return
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(text, dict) or (fmt is not None and not isinstance(fmt, dict)):
        raise bad_request("text", "`text` must be an object with an optional `format` object.")
    if fmt is None:
        return
    if fmt.get("type") not in FORMATS:
        raise bad_request("text.format.type", f"`text.format.type` must be one of {', '.join(FORMATS)}.")
    if fmt["type"] == "json_schema" and not (
        isinstance(fmt.get("name"), str) and isinstance(fmt.get("schema"), dict)
    ):
        raise bad_request("text.format", "a json_schema format needs a `name` string and a `schema` object.")


def parse_responses(raw: bytes, body: dict[str, Any]) -> ResponsesRequest:
    """Check a Responses body; 400 naming the bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("model", "you must provide a model parameter (a string).")
    _check_input(body.get("input"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_request("instructions", "`instructions` must be a string.")
    if body.get("tools") is not None and not isinstance(body["tools"], list):
        raise bad_request("tools", "`tools` must be a list.")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not 0 < len(previous) <= 200):
        raise bad_request("previous_response_id", "`previous_response_id` must be a response id.")
    if body.get("reasoning") is not None and not isinstance(body["reasoning"], dict):
        raise bad_request("reasoning", "`reasoning` must be an object.")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _check_text(body.get("text"))
    stream = _bool(body, "stream", False)
    store = _bool(body, "store", True)
    cap = bounded_int(body, "max_output_tokens", 1, MAX_OUTPUT_TOKENS)
    return ResponsesRequest(raw, body, model, stream, store, previous, cap)


def new_id(prefix: str) -> str:
    """A fresh item id (`msg_…`, `fc_…`, `rs_…`)."""
    return f"{prefix}_{os.urandom(12).hex()}"


def input_items(req: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's input as a list of items, each with an id (a string becomes one user message)."""
    value = req.body["input"]
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    items = []
    for item in value:
        item = {"type": "message", **item} if "type" not in item else dict(item)
        if "id" not in item:
            item["id"] = new_id({"function_call": "fc", "reasoning": "rs"}.get(item["type"], "msg"))
        items.append(item)
    return items


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in TEXT_PARTS
    )


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in TEXT_PARTS:
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part.get("file_data"), str):
        return {
            "type": "file",
            "file": {"filename": part.get("filename") or "file", "file_data": part["file_data"]},
        }
    raise bad_request(
        where, f"`{where}`: parts of type {kind!r} need a provider that serves the Responses API."
    )


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role, content = item["role"], item.get("content")
    if role in ("system", "developer", "assistant") or isinstance(content, str):
        return {"role": role, "content": _text_of(content)}
    parts = [_part(p, f"{where}.content[{j}]") for j, p in enumerate(content)]
    if all(p["type"] == "text" for p in parts):
        return {"role": role, "content": "".join(p["text"] for p in parts)}
    return {"role": role, "content": parts}


def _output_text(output: Any) -> str:
    return output if isinstance(output, str) else _text_of(output)


def _messages(items: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Chat messages for Responses items (function calls join the assistant message before them)."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "message":
            out.append(_message(item, f"{where}[{i}]"))
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {
                    "name": chat_name(item.get("name"), item.get("namespace")),
                    "arguments": item.get("arguments") or "{}",
                },
            }
            last = out[-1] if out else None
            if last is None or last["role"] != "assistant":
                last = {"role": "assistant", "content": None}
                out.append(last)
            last.setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            out.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": _output_text(item.get("output"))}
            )
    return out


def _function(tool: dict[str, Any], name: str) -> dict[str, Any]:
    function = {
        "name": name,
        "description": tool.get("description") or "",
        "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
    }
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def chat_name(name: Any, namespace: Any = None) -> str:
    """The chat tool name of a (namespaced) Responses function: `<namespace>__<name>` inside a namespace."""
    return f"{namespace}{NAMESPACE_JOIN}{name}" if namespace else str(name)


def tool_names(tools: Any) -> dict[str, tuple[str | None, str]]:
    """Chat tool name → (namespace, name) for every function tool a request declares."""
    names: dict[str, tuple[str | None, str]] = {}
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "function":
            names[str(tool.get("name"))] = (None, str(tool.get("name")))
        elif tool.get("type") == "namespace":
            for inner in tool.get("tools") or ():
                if isinstance(inner, dict) and inner.get("type") == "function":
                    names[chat_name(inner.get("name"), tool.get("name"))] = (
                        tool.get("name"),
                        str(inner.get("name")),
                    )
    return names


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Chat tools for the request's function tools (namespaced ones flattened).

    Hosted tools (web search, file search, code interpreter, ...) run on OpenAI's platform only;
    another provider cannot run them, so they are left out rather than failing the whole request
    (Codex always declares web_search, for instance).
    """
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise bad_request(f"tools[{i}]", f"`tools[{i}]` must be a tool object with a `type`.")
        if tool["type"] == "function":
            out.append(_function(tool, str(tool.get("name"))))
        elif tool["type"] == "namespace":
            out += [
                _function(inner, chat_name(inner.get("name"), tool.get("name")))
                for inner in tool.get("tools") or ()
                if isinstance(inner, dict) and inner.get("type") == "function"
            ]
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {
            "type": "function",
            "function": {"name": chat_name(choice.get("name"), choice.get("namespace"))},
        }
    return choice if choice in ("auto", "none", "required") else None


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") == "text":
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
    return {"type": "json_schema", "json_schema": schema}


def to_chat_body(req: ResponsesRequest, history: list[dict[str, Any]], output_cap: int) -> dict[str, Any]:
    """A chat completion body for a Responses request after `history` (earlier input and output items)."""
    body = req.body
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    messages += _messages([i for i in history if i.get("type") != "reasoning"], "previous_response_id")
    messages += _messages(input_items(req), "input")
    out: dict[str, Any] = {"model": req.model, "messages": messages, "max_completion_tokens": output_cap}
    tools = _tools(body.get("tools") or [])
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    response_format = _response_format(body.get("text"))
    if response_format:
        out["response_format"] = response_format
    effort = (body.get("reasoning") or {}).get("effort")
    if isinstance(effort, str):
        out["reasoning_effort"] = effort
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str):
        out["user"] = user
    if req.stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def responses_usage(usage: TokenUsage) -> dict[str, Any]:
    """Billed token counts as Responses usage (input includes the cached part)."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _count(value: Any) -> int:
    return value if _is_int(value) and value > 0 else 0


def usage_from_responses(usage: Any) -> TokenUsage | None:
    """A native Responses `usage` object as billed token counts."""
    if not isinstance(usage, dict) or ("input_tokens" not in usage and "output_tokens" not in usage):
        return None
    input_details = (
        usage.get("input_tokens_details") if isinstance(usage.get("input_tokens_details"), dict) else {}
    )
    output_details = (
        usage.get("output_tokens_details") if isinstance(usage.get("output_tokens_details"), dict) else {}
    )
    return TokenUsage(
        prompt_tokens=_count(usage.get("input_tokens")),
        completion_tokens=_count(usage.get("output_tokens")),
        cached_tokens=_count(input_details.get("cached_tokens")),
        reasoning_tokens=_count(output_details.get("reasoning_tokens")),
    )


def response_id(request_id: str) -> str:
    """The id of the response a request produced (from the request id, so logs line up)."""
    return "resp_" + request_id.removeprefix("req_")


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant message output item with one output_text part."""
    content = (
        [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        if text or status == "completed"
        else []
    )
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def function_call_item(
    item_id: str,
    call_id: str,
    name: str,
    arguments: str,
    status: str = "completed",
    names: dict[str, tuple[str | None, str]] | None = None,
) -> dict[str, Any]:
    """A function_call output item (`name` is the chat tool name, split back into namespace and name)."""
    namespace, name = (names or {}).get(name, (None, name))
    item = {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }
    if namespace:
        item["namespace"] = namespace
    return item


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    """A reasoning output item whose summary is the model's reasoning text."""
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": text}],
        "status": "completed",
    }


def response_object(
    rid: str,
    model: str,
    req: ResponsesRequest,
    created_at: int,
    output: list[dict[str, Any]],
    status: str,
    usage: TokenUsage | None,
) -> dict[str, Any]:
    """A Response object echoing the request's settings."""
    body = req.body
    return {
        "id": rid,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": model,
        "output": output,
        "usage": responses_usage(usage) if usage is not None else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": req.previous_response_id,
        "reasoning": body.get("reasoning"),
        "store": req.store,
        "temperature": body.get("temperature"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
    }


def _output(message: dict[str, Any], names: dict[str, tuple[str | None, str]]) -> list[dict[str, Any]]:
    out = []
    if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
        out.append(reasoning_item(new_id("rs"), message["reasoning_content"]))
    text = message.get("content")
    if isinstance(text, str) and text:
        out.append(message_item(new_id("msg"), text))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            out.append(
                function_call_item(
                    new_id("fc"),
                    str(call.get("id") or new_id("call")),
                    str(function.get("name") or ""),
                    str(function.get("arguments") or ""),
                    names=names,
                )
            )
    return out


def to_response(
    completion: dict[str, Any],
    rid: str,
    model: str,
    req: ResponsesRequest,
    usage: TokenUsage,
    created_at: int,
) -> dict[str, Any]:
    """A Response for a chat completion (its first choice)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
    output = _output(message, tool_names(req.body.get("tools")))
    return response_object(rid, model, req, created_at, output, status, usage)
