"""OpenAI's audio replies (PROTOCOL §4.4, §4.5): what they report they used, and their native streams.

A transcription reports `usage` as `{type: "duration", seconds}` (whisper-style models, billed
per audio second) or `{type: "tokens", input_tokens, input_token_details: {audio_tokens,
text_tokens}, output_tokens}` (gpt-4o-style models); a reply may also report nothing (text, srt
and vtt bodies never can). The audio's length read from its header (dataplane/audio_length.py)
always fills the `audio_second` meter unless the upstream reported a duration, so a model the
operator prices per second is billed per second whatever the upstream reports; tokens nobody
reported are estimated (`AUDIO_TOKENS_PER_MINUTE`, the text by dataplane/tokens.py).

Speech always bills its `characters` (known before the call), plus the tokens of
`speech.audio.done`'s usage when streamed as SSE, else the input text's estimate.

Both streams are relayed unchanged (the upstream's `data:` events) and metered from a parsed
copy: `transcript.text.delta` / `transcript.text.done` (which carries the usage), and
`speech.audio.delta` / `speech.audio.done`. A failure after the headers is an `error` event.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from dataplane.errors import error_body
from dataplane.stream_relay import KEEPALIVE, Meter, event_error, parse_event
from dataplane.tokens import estimate_tokens
from shared.money import Prices, TokenUsage

# What OpenAI's per-minute prices of its token-priced transcription models come to at their
# per-token prices: about 1,000 audio tokens a minute. Used only when no usage was reported.
AUDIO_TOKENS_PER_MINUTE = 1_000
MS_PER_MINUTE = 60_000
TOKEN_METERS = ("input", "audio_input", "output", "audio_output")


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def reported_ms(seconds: Any) -> int | None:
    """A duration in seconds (an integer or a decimal, as the upstream wrote it) in whole ms, rounded up."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | str):
        return None
    try:
        value = Decimal(str(seconds))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return int((value * 1000).to_integral_value(rounding=ROUND_CEILING))


def priced_by_tokens(prices: Prices | None) -> bool:
    """Whether a model bills any token meter, so tokens are worth bounding and estimating (None: unknown)."""
    return prices is None or any(prices.of(name) > 0 for name in TOKEN_METERS)


def estimated_audio_tokens(ms: int) -> int:
    """The audio tokens `ms` of audio is likely to be, for a reply that reported none."""
    return math.ceil(ms * AUDIO_TOKENS_PER_MINUTE / MS_PER_MINUTE)


def transcription_usage(
    reported: Any, ms: int, prompt_tokens: int, text: str, estimate: bool = True
) -> TokenUsage:
    """What a transcription used: its reported `usage` if any, else `ms` of audio and estimated tokens.

    `ms` is the recording's length as the gateway knows it; `prompt_tokens` an estimate of the
    text prompt; `text` the transcript (for the output estimate); `estimate` False when the model
    bills no tokens (then no tokens are made up for it).
    """
    kind = reported.get("type") if isinstance(reported, dict) else None
    if kind == "duration":
        upstream_ms = reported_ms(reported.get("seconds"))
        if upstream_ms is not None:
            return TokenUsage(counts={"audio_second": upstream_ms})
    if kind == "tokens":
        input_tokens = _whole(reported.get("input_tokens"))
        details = reported.get("input_token_details")
        # Without details, the input is taken as audio: the upload is, and audio is the dearer class.
        audio = _whole(details.get("audio_tokens")) if isinstance(details, dict) else input_tokens
        output = _whole(reported.get("output_tokens"))
        return TokenUsage(input_tokens, output, audio_input_tokens=audio, counts={"audio_second": ms})
    if not estimate:
        return TokenUsage(counts={"audio_second": ms})
    audio = estimated_audio_tokens(ms)
    return TokenUsage(
        audio + prompt_tokens, estimate_tokens(text), audio_input_tokens=audio, counts={"audio_second": ms}
    )


def speech_usage(reported: Any, characters: int, prompt_tokens: int) -> TokenUsage:
    """What a speech reply used: the input's characters, and the reported tokens (else the estimate)."""
    counts = {"characters": characters}
    if isinstance(reported, dict):
        input_tokens = _whole(reported.get("input_tokens"))
        output = _whole(reported.get("output_tokens"))
        if input_tokens or output:
            return TokenUsage(input_tokens, output, audio_output_tokens=output, counts=counts)
    return TokenUsage(prompt_tokens, counts=counts)


def failure_event(code: str, message: str) -> bytes:
    """The event that ends a stream which failed after the headers (the SDK raises it as an APIError)."""
    return b"data: " + error_body(message, "server_error", code) + b"\n\n"


class _NativeAudioStream:
    """An OpenAI audio stream relayed as it came, metered from a parsed copy of each event."""

    keepalive = KEEPALIVE

    def __init__(self) -> None:
        self.meter = Meter()

    def opening(self) -> bytes:
        return b""

    def event(self, data: bytes, whole: bytes) -> bytes:
        if not data:
            return whole  # comments and the like
        if data.startswith(b"[DONE]"):
            self.meter.done = True
            return whole
        payload = parse_event(data)
        if payload is None:
            return b""
        error = event_error(payload)
        if error is not None:
            self.meter.error = error
            return b""  # the relay's own error event replaces it
        self.typed(str(payload.get("type") or ""), payload)
        return whole

    def typed(self, kind: str, payload: dict[str, Any]) -> None:
        """Meter one event of type `kind`."""
        raise NotImplementedError

    def closing(self) -> bytes:
        return b""  # the upstream's own end went out

    def failure(self, code: str, message: str) -> bytes:
        return failure_event(code, message)


class TranscriptionStream(_NativeAudioStream):
    """`stream=true` transcription events: deltas are counted as delivered text, the done event bills."""

    def __init__(self, ms: int, prompt_tokens: int, estimate: bool) -> None:
        super().__init__()
        self.ms = ms
        self.prompt_tokens = prompt_tokens
        self.estimate = estimate
        self.text: list[str] = []

    def typed(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "transcript.text.delta":
            delta = payload.get("delta")
            if isinstance(delta, str):
                self.text.append(delta)
                self.meter.take(estimate_tokens(delta))
        elif kind == "transcript.text.done":
            text = payload.get("text")
            text = text if isinstance(text, str) else "".join(self.text)
            # Set even without a reported usage: an empty transcript of real audio is still billed.
            usage = payload.get("usage")
            self.meter.usage = transcription_usage(usage, self.ms, self.prompt_tokens, text, self.estimate)
            self.meter.finished = True

    def counted_usage(self) -> TokenUsage:
        return transcription_usage(None, self.ms, self.prompt_tokens, "".join(self.text), self.estimate)


class SpeechStream(_NativeAudioStream):
    """`stream_format: "sse"` speech events: audio deltas, then the done event with the usage."""

    def __init__(self, characters: int, prompt_tokens: int) -> None:
        super().__init__()
        self.characters = characters
        self.prompt_tokens = prompt_tokens

    def typed(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "speech.audio.delta":
            self.meter.take(0)  # marks the first audio (nothing to count: the price is per character)
        elif kind == "speech.audio.done":
            self.meter.usage = speech_usage(payload.get("usage"), self.characters, self.prompt_tokens)
            self.meter.finished = True

    def counted_usage(self) -> TokenUsage:
        return speech_usage(None, self.characters, self.prompt_tokens)
