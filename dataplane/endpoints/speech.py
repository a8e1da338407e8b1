"""`POST /v1/audio/speech` (PROTOCOL §4.5): text to speech, native only, the audio relayed as it arrives.

The reply is the upstream's audio with its own content type (`audio/mpeg`, `audio/wav`, ...),
sent on chunk by chunk (dataplane/byte_relay.py), so playback can start before the upstream
has finished; `stream_format: "sse"` relays the upstream's `speech.audio.*` events instead.

Billing: the `characters` meter counts the characters of `input`, known before the call, so the
hold is exact; a model priced by tokens also bills the input text's tokens (estimated, or as
`speech.audio.done` reports them with its audio output tokens when streamed as SSE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt
from dataplane.dialects.audio import SpeechStream, priced_by_tokens, speech_usage
from dataplane.endpoints.base import Call, Endpoint
from dataplane.errors import bad_request
from dataplane.failover import BYTES, SSE
from dataplane.snapshot import RouteInfo
from dataplane.tokens import OVERHEAD_TOKENS, estimate_tokens
from dataplane.upstreams.base import Upstream
from shared.money import TokenUsage

if TYPE_CHECKING:
    from dataplane.billing import Caller
    from dataplane.gateway import Gateway

RESPONSE_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
STREAM_FORMATS = ("audio", "sse")
MAX_INPUT_CHARS = 4096  # as OpenAI
MIN_SPEED, MAX_SPEED = 0.25, 4.0
# A bound on the audio output tokens of a streamed reply: at normal speed speech is about 1.4
# audio tokens a character (OpenAI's per-minute estimate at its per-token price); slower speech is longer.
HELD_AUDIO_TOKENS_PER_CHAR = 2


@dataclass
class SpeechRequest:
    """A parsed speech body, what it is billed by, and whether the reply is SSE."""

    body: dict[str, Any]
    characters: int
    prompt_tokens: int  # an estimate of `input` and `instructions` (0 when the model bills no tokens)
    sse: bool
    speed: float


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is not None and value not in choices:
        raise bad_request(name, f"`{name}` must be one of {', '.join(choices)}, got {str(value)[:40]!r}.")
    return value


def _speed(body: dict[str, Any]) -> float:
    speed = body.get("speed")
    if speed is None:
        return 1.0
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not MIN_SPEED <= speed <= MAX_SPEED:
        raise bad_request("speed", f"`speed` must be a number from {MIN_SPEED} to {MAX_SPEED}.")
    return float(speed)


def _text(body: dict[str, Any]) -> str:
    text = body.get("input")
    if not isinstance(text, str) or not text:
        raise bad_request("input", "you must provide `input`, the text to speak (a non-empty string).")
    if len(text) > MAX_INPUT_CHARS:
        raise bad_request(
            "input",
            f"`input` is {len(text)} characters long; at most {MAX_INPUT_CHARS} are spoken in one request.",
            "string_above_max_length",
        )
    return text


def _check_voice(body: dict[str, Any]) -> None:
    voice = body.get("voice")
    named = isinstance(voice, str) and voice.strip()
    custom = isinstance(voice, dict) and isinstance(voice.get("id"), str) and voice["id"]
    if not (named or custom):
        raise bad_request("voice", 'you must provide `voice` (a voice name such as alloy, or {"id": ...}).')


class Speech(Endpoint):
    name = "speech"
    paths = ("/audio/speech",)
    modality = "speech"
    bills_output = False
    translatable = False

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise bad_request("model", "you must provide a model parameter (a string).")
        text = _text(body)
        _check_voice(body)
        _choice(body, "response_format", RESPONSE_FORMATS)
        sse = _choice(body, "stream_format", STREAM_FORMATS) == "sse"
        speed = _speed(body)
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise bad_request("instructions", "`instructions` must be a string.")
        instructions = instructions or ""
        prompt_tokens = estimate_tokens(text) + estimate_tokens(instructions)
        counts = {"characters": len(text)}
        size = len(text.encode("utf-8")) + len(instructions.encode("utf-8"))
        bound = bounded_prompt(size + OVERHEAD_TOKENS)
        parsed = SpeechRequest(body, len(text), prompt_tokens, sse, speed)
        return Call(model, sse, bound, None, parsed, counts=counts)

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        """For a model that bills tokens, hold the audio output tokens an SSE reply can report;
        for one that does not, estimate no input tokens."""
        parsed: SpeechRequest = call.parsed
        model = gateway.snapshot.models.get(call.model)
        if not priced_by_tokens(model.prices if model else None):
            parsed.prompt_tokens = 0
            call.prompt_bound = 0
        elif parsed.sse:
            # Only an SSE reply reports audio tokens, so only then can they be billed.
            call.counts["audio_output"] = math.ceil(
                parsed.characters * HELD_AUDIO_TOKENS_PER_CHAR / parsed.speed
            )

    def expects(self, call: Call) -> str:
        return SSE if call.parsed.sse else BYTES

    def bytes_usage(self, call: Call) -> TokenUsage:
        return speech_usage(None, call.parsed.characters, call.parsed.prompt_tokens)

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        accept = "text/event-stream" if call.parsed.sse else "application/octet-stream"
        headers = {"x-request-id": r.caller.request_id, "accept": accept}
        return adapter.native_request(route, "/audio/speech", dict(call.parsed.body), headers)

    def native_stream(self, call: Call, r: Reservation) -> SpeechStream:
        return SpeechStream(call.parsed.characters, call.parsed.prompt_tokens)

    def counted_prompt(self, call: Call) -> int:
        return call.parsed.prompt_tokens


ENDPOINT = Speech()
