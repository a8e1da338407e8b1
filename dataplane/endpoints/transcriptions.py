"""`POST /v1/audio/transcriptions` and `/v1/audio/translations` (PROTOCOL §4.4): uploads, native only.

The multipart body is read within `max_audio_upload_bytes` (dataplane/uploads.py, 413 past it)
and sent on with every field as the client wrote it (`timestamp_granularities[]`, `include[]`
and the rest), only `model` replaced. Replies go back as they came: JSON for json, verbose_json
and diarized_json; the text body for text, srt and vtt; the upstream's events for `stream=true`.

The hold is the worst case of every meter such a call can bill, in full (a transcription has no
output cap to lower): the recording's length from its header on `audio_second`
(dataplane/audio_length.py), and for models priced by tokens a bound on its audio tokens and on
the transcript's tokens. Settlement bills what the upstream reported, else the length and
estimates (dataplane/dialects/audio.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request

from dataplane.audio_length import AudioLength, audio_length
from dataplane.billing import Reservation
from dataplane.bodies import bounded_prompt
from dataplane.dialects.audio import (
    TranscriptionStream,
    estimated_audio_tokens,
    priced_by_tokens,
    reported_ms,
    transcription_usage,
)
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import bad_request
from dataplane.failover import JSON, SSE_OR_JSON, TEXT
from dataplane.snapshot import RouteInfo
from dataplane.tokens import OVERHEAD_TOKENS, estimate_tokens
from dataplane.uploads import Form, read_form
from dataplane.upstreams.base import Upstream
from shared.settings import Settings

if TYPE_CHECKING:
    from dataplane.billing import Caller
    from dataplane.gateway import Gateway

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
TEXT_FORMATS = frozenset({"text", "srt", "vtt"})
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
# Hold bounds for token-priced models: twice the audio tokens a minute OpenAI's prices imply
# (see AUDIO_TOKENS_PER_MINUTE), and a transcript of 16 tokens a second of speech (fast speech
# is under 5 words a second) plus room for the prompt's echo and formatting.
HELD_AUDIO_TOKENS_PER_MINUTE = 2_000
HELD_OUTPUT_TOKENS_PER_S = 16
HELD_OUTPUT_MARGIN = 256
BOOLEANS = {"true": True, "false": False}


@dataclass
class TranscriptionRequest:
    """A parsed upload: the form as it goes upstream, the reply's format, the audio's length."""

    form: Form
    response_format: str
    length: AudioLength
    prompt_tokens: int  # an estimate of the text `prompt`
    tokens: bool = True  # the model bills tokens (set by `prepare`)


def held_tokens(ms: int) -> dict[str, int]:
    """The most audio input and output tokens a transcription of `ms` of audio can bill."""
    return {
        "audio_input": math.ceil(ms * HELD_AUDIO_TOKENS_PER_MINUTE / 60_000),
        "output": math.ceil(ms * HELD_OUTPUT_TOKENS_PER_S / 1_000) + HELD_OUTPUT_MARGIN,
    }


def _flag(form: Form, name: str) -> bool:
    value = form.value(name)
    if value is None or value == "":
        return False
    flag = BOOLEANS.get(value.strip().lower())
    if flag is None:
        raise bad_request(name, f"`{name}` must be true or false, got {value[:40]!r}.")
    return flag


def _temperature(form: Form) -> None:
    value = form.value("temperature")
    if value is None or value == "":
        return
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:
        raise bad_request("temperature", f"`temperature` must be a number from 0 to 1, got {value[:40]!r}.")


class Transcriptions(Endpoint):
    name = "transcriptions"
    paths = ("/audio/transcriptions",)
    modality = "transcription"
    bills_output = False
    translatable = False
    upstream_path = "/audio/transcriptions"
    streams = True  # translations have no stream

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        return await read_form(request, settings.max_audio_upload_bytes)

    def parse(self, raw: bytes, body: Form, headers: httpx.Headers | Any) -> Call:
        upload = body.file("file")
        if upload is None:
            raise bad_request("file", "you must provide `file`, the audio to transcribe (a file upload).")
        model = body.value("model")
        if model is None or not model.strip():
            raise bad_request("model", "you must provide a model parameter (a string).")
        response_format = body.value("response_format") or "json"
        if response_format not in RESPONSE_FORMATS:
            choices = ", ".join(RESPONSE_FORMATS)
            shown = response_format[:40]
            message = f"`response_format` must be one of {choices}, got {shown!r}."
            raise bad_request("response_format", message)
        stream = _flag(body, "stream")
        if stream and not self.streams:
            raise bad_request("stream", f"`{self.paths[0]}` does not stream; leave `stream` out.")
        _temperature(body)
        prompt = body.value("prompt") or ""
        length = audio_length(upload.file, upload.size)
        parsed = TranscriptionRequest(body, response_format, length, estimate_tokens(prompt))
        bound = bounded_prompt(len(prompt.encode("utf-8")) + OVERHEAD_TOKENS)
        return Call(model, stream, bound, None, parsed, counts={"audio_second": length.ms})

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        """Bound the tokens too when the model bills them (the token meters go into `counts`, held
        in full like the seconds: a transcription has no output cap to lower)."""
        model = gateway.snapshot.models.get(call.model)
        call.parsed.tokens = priced_by_tokens(model.prices if model else None)
        if call.parsed.tokens:
            call.counts.update(held_tokens(call.parsed.length.ms))
        else:
            call.prompt_bound = 0  # no tokens to bill, none to count against token rate limits

    def expects(self, call: Call) -> str:
        if call.stream:
            # whisper-1 ignores `stream` and answers JSON, as OpenAI does; that passes on as it is.
            return SSE_OR_JSON
        return TEXT if call.parsed.response_format in TEXT_FORMATS else JSON

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        form: Form = call.parsed.form
        headers = {"x-request-id": r.caller.request_id}
        return adapter.native_form(  # type: ignore[attr-defined]  # every kind serving this has it
            route, self.upstream_path, form.upstream_fields(), form.upstream_files(), headers
        )

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        parsed: TranscriptionRequest = call.parsed
        if parsed.response_format in TEXT_FORMATS:
            text = content.decode("utf-8", "replace")
            usage = transcription_usage(None, parsed.length.ms, parsed.prompt_tokens, text, parsed.tokens)
            return NativeReply(content, usage, 0, TEXT_MEDIA_TYPE, "counted")
        ms = parsed.length.ms
        if not parsed.length.measured:
            # No header to read: verbose_json's own `duration` is better than the bound by size.
            ms = reported_ms(payload.get("duration")) or ms
        text = payload.get("text") if isinstance(payload.get("text"), str) else ""
        usage = transcription_usage(payload.get("usage"), ms, parsed.prompt_tokens, text, parsed.tokens)
        source = "upstream" if isinstance(payload.get("usage"), dict) else "counted"
        return NativeReply(content, usage, 0, usage_source=source)

    def native_stream(self, call: Call, r: Reservation) -> TranscriptionStream:
        parsed: TranscriptionRequest = call.parsed
        return TranscriptionStream(parsed.length.ms, parsed.prompt_tokens, parsed.tokens)

    def counted_prompt(self, call: Call) -> int:
        return estimated_audio_tokens(call.parsed.length.ms) + call.parsed.prompt_tokens


class Translations(Transcriptions):
    """Speech in any language transcribed into English text: the same upload, no stream."""

    name = "audio_translations"  # `translations` is the text endpoint (dataplane/endpoints/translations.py)
    paths = ("/audio/translations",)
    upstream_path = "/audio/translations"
    streams = False


ENDPOINT = Transcriptions()
TRANSLATIONS = Translations()
