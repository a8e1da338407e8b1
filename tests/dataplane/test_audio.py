"""Audio through the real data plane: transcriptions, translations and speech, with the official SDK.

Upstream is our fake audio provider (tests/support/fake_audio.py) on a real port. The uploads are
real WAV files made with the stdlib `wave` module, so the seconds billed come from a real header.
Protocol and billing only, so SQLite only: the settlement's database paths run on both backends
in test_billing.py.
"""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from dataplane.audio_length import audio_length, bound_ms
from shared import accounts
from tests.dataplane.helpers import Customer, Shop, charges, usage_for
from tests.support.fake_audio import TRANSCRIPT, AudioReply, FakeAudio
from tests.support.servers import ServerThread

WHISPER = "acme/whisper"  # priced per audio second
TRANSCRIBE = "acme/transcribe"  # priced per token, like gpt-4o-transcribe
TTS = "acme/tts"  # priced per 1k characters
TTS_TOKENS = "acme/tts-tokens"  # priced per token, like gpt-4o-mini-tts

SECOND_PRICE = 100_000  # $0.0001 per audio second
TEXT_IN, AUDIO_IN, TEXT_OUT = 2_500_000_000, 6_000_000_000, 10_000_000_000  # $2.50, $6, $10 per 1M tokens
CHAR_PRICE = 15_000_000  # $15 per 1M characters = 15,000,000 nano-USD per 1k
TTS_IN, TTS_AUDIO_OUT = 600_000_000, 12_000_000_000  # $0.60 and $12 per 1M tokens
MULTIPLIER_PPM = 1_500_000  # the customer's group pays ×1.5
SPOKEN = "The quick brown fox jumps over the lazy dog."  # 44 characters


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite only (see the module docstring)."""
    return request.param


@pytest.fixture(scope="module")
def audio_server() -> Iterator[tuple[FakeAudio, ServerThread]]:
    fake = FakeAudio()
    server = ServerThread(fake.app(), log_level="critical", graceful_s=1.0).start()
    yield fake, server
    fake.reset()
    server.stop()


@pytest.fixture
def fake(audio_server: tuple[FakeAudio, ServerThread]) -> Iterator[FakeAudio]:
    audio_server[0].reset()
    yield audio_server[0]
    audio_server[0].reset()


@pytest.fixture
def voiced(shop: Shop, audio_server: tuple[FakeAudio, ServerThread]) -> Shop:
    """A provider "voice" on the fake, the four audio models, and a ×1.5 customer group."""
    shop.provider("voice", audio_server[1].url)
    common = {"provider": "voice", "input_price": 0, "output_price": 0}
    shop.model(WHISPER, upstream_model="whisper-1", modality="transcription", **common, meters=seconds())
    shop.model(
        TRANSCRIBE,
        "voice",
        upstream_model="gpt-4o-transcribe",
        modality="transcription",
        input_price=TEXT_IN,
        output_price=TEXT_OUT,
        meters={"audio_input": AUDIO_IN},
    )
    shop.model(TTS, upstream_model="tts-1", modality="speech", **common, meters={"characters": CHAR_PRICE})
    shop.model(
        TTS_TOKENS,
        "voice",
        upstream_model="gpt-4o-mini-tts",
        modality="speech",
        input_price=TTS_IN,
        output_price=0,
        meters={"audio_output": TTS_AUDIO_OUT},
    )
    group = accounts.get_or_create_group("pro")
    group.multiplier_ppm = MULTIPLIER_PPM
    group.save()
    return shop


def seconds() -> dict[str, int]:
    return {"audio_second": SECOND_PRICE}


@pytest.fixture
def carol(voiced: Shop) -> Customer:
    """A customer of the ×1.5 group with $10."""
    return voiced.customer(10_000_000_000, group="pro")


@pytest.fixture
def gateway(voiced: Shop, carol: Customer, start_gateway: Callable[..., ServerThread]) -> ServerThread:
    return start_gateway()


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    """2.5 s of silence, 16 kHz mono 16-bit: a real WAV header that says 2.5 s."""
    path = tmp_path / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * 40_000)
    return path


def times_group(nano: int) -> int:
    """A charge at the group's ×1.5 (every amount in these tests is even, so it is exact)."""
    assert nano * MULTIPLIER_PPM % 1_000_000 == 0
    return nano * MULTIPLIER_PPM // 1_000_000


def client(gateway: ServerThread, customer: Customer) -> openai.OpenAI:
    return customer.client(gateway.url)


# Transcriptions


def test_transcription_bills_the_seconds_read_from_the_wav_header(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    with wav.open("rb") as upload:
        result = client(gateway, carol).audio.transcriptions.create(
            file=upload, model=WHISPER, language="en", timestamp_granularities=["word", "segment"]
        )

    assert result.text == TRANSCRIPT
    [seen] = fake.requests
    assert seen.path == "/v1/audio/transcriptions"
    assert seen.fields["model"] == ["whisper-1"]
    assert seen.fields["language"] == ["en"]
    assert seen.fields["timestamp_granularities[]"] == ["word", "segment"]
    filename, content_type, data = seen.files["file"]
    assert (filename, data) == ("speech.wav", wav.read_bytes())
    assert content_type.startswith("audio/")
    [record] = usage_for(1)
    # 2.5 s from the header (the upstream reported no usage) at $0.0001 a second.
    assert record.charge == times_group(2_500 * SECOND_PRICE // 1_000) == 375_000
    assert record.meters == {"audio_second": [2_500, SECOND_PRICE]}
    assert record.endpoint == "transcriptions"
    assert charges(carol.user_id) == [375_000]


def test_every_response_format_comes_back_as_the_upstream_sent_it(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    audio = client(gateway, carol).audio.transcriptions
    texts = {
        "text": TRANSCRIPT,
        "srt": f"1\n00:00:00,000 --> 00:00:02,500\n{TRANSCRIPT}\n\n",
        "vtt": f"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n{TRANSCRIPT}\n\n",
    }
    for fmt, body in texts.items():
        raw = audio.with_raw_response.create(file=wav, model=WHISPER, response_format=fmt)  # type: ignore[call-overload]
        assert raw.headers["content-type"].startswith("text/plain")
        assert raw.parse() == body
        assert raw.text == body

    verbose = audio.create(file=wav, model=WHISPER, response_format="verbose_json")
    assert (verbose.text, verbose.duration, verbose.language) == (TRANSCRIPT, 2.5, "english")
    assert verbose.segments is not None and verbose.segments[0].end == 2.5
    plain = audio.create(file=wav, model=WHISPER, response_format="json")
    assert plain.text == TRANSCRIPT
    diarized = audio.create(file=wav, model=WHISPER, response_format="diarized_json")
    assert diarized.text == TRANSCRIPT
    assert [seen.fields["response_format"] for seen in fake.requests] == [
        ["text"],
        ["srt"],
        ["vtt"],
        ["verbose_json"],
        ["json"],
        ["diarized_json"],
    ]
    # Every one billed its 2.5 s.
    assert [r.charge for r in usage_for(6)] == [375_000] * 6


def test_the_upstreams_reported_duration_is_billed_over_the_header(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    fake.script(AudioReply(usage={"type": "duration", "seconds": 3}))

    client(gateway, carol).audio.transcriptions.create(file=wav, model=WHISPER)

    [record] = usage_for(1)
    assert record.charge == times_group(3 * SECOND_PRICE) == 450_000
    assert record.meters == {"audio_second": [3_000, SECOND_PRICE]}


def tokens_usage() -> dict[str, object]:
    return {
        "type": "tokens",
        "input_tokens": 70,
        "input_token_details": {"audio_tokens": 60, "text_tokens": 10},
        "output_tokens": 20,
        "total_tokens": 90,
    }


# 10 text input tokens, 60 audio input tokens and 20 output tokens, per token in nano-USD.
TOKENS_CHARGE = times_group(10 * 2_500 + 60 * 6_000 + 20 * 10_000)


def test_a_token_priced_model_bills_the_reported_audio_and_text_tokens(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    fake.script(AudioReply(usage=tokens_usage()))

    result = client(gateway, carol).audio.transcriptions.create(
        file=wav, model=TRANSCRIBE, prompt="Names: Tollgate."
    )

    assert result.text == TRANSCRIPT
    assert fake.requests[0].fields["model"] == ["gpt-4o-transcribe"]
    assert fake.requests[0].fields["prompt"] == ["Names: Tollgate."]
    [record] = usage_for(1)
    assert record.charge == TOKENS_CHARGE == 877_500
    assert record.prompt_tokens == 70 and record.completion_tokens == 20


def test_streamed_transcription_relays_the_events_and_bills_the_done_events_usage(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    fake.script(AudioReply(usage=tokens_usage()))

    events = list(client(gateway, carol).audio.transcriptions.create(file=wav, model=TRANSCRIBE, stream=True))

    assert fake.requests[0].fields["stream"] == ["true"]
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    assert "".join(deltas) == TRANSCRIPT + " "
    done = events[-1]
    assert done.type == "transcript.text.done"
    assert done.text == TRANSCRIPT
    assert done.usage is not None and done.usage.input_tokens == 70
    [record] = usage_for(1)
    assert record.stream
    assert record.charge == TOKENS_CHARGE


def test_a_streamed_transcription_without_usage_bills_the_headers_seconds(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    events = list(client(gateway, carol).audio.transcriptions.create(file=wav, model=WHISPER, stream=True))

    assert events[-1].type == "transcript.text.done" and events[-1].usage is None
    [record] = usage_for(1)
    assert record.charge == 375_000
    assert record.meters == {"audio_second": [2_500, SECOND_PRICE]}


def test_a_model_that_ignores_stream_answers_json_which_passes_on_and_is_billed(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    # whisper-1 answers `stream=true` with its JSON, as OpenAI does; the client gets it as it is.
    fake.script(AudioReply(ignores_stream=True))

    response = httpx.post(
        f"{gateway.url}/v1/audio/transcriptions",
        headers={"authorization": f"Bearer {carol.secret}"},
        data={"model": WHISPER, "stream": "true"},
        files={"file": ("speech.wav", wav.read_bytes(), "audio/wav")},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["text"] == TRANSCRIPT
    [record] = usage_for(1)
    assert record.status == "ok" and record.charge == 375_000


def test_translation_is_sent_to_the_translations_path_and_billed_per_second(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    # The SDK marks translations deprecated but still sends them; clients in the field use it.
    with wav.open("rb") as upload, pytest.warns(DeprecationWarning):
        result = client(gateway, carol).audio.translations.create(file=upload, model=WHISPER)

    assert result.text == TRANSCRIPT
    assert fake.requests[0].path == "/v1/audio/translations"
    assert fake.requests[0].files["file"][2] == wav.read_bytes()
    [record] = usage_for(1)
    assert record.endpoint == "audio_translations"
    assert record.charge == 375_000


def test_an_unaffordable_transcription_is_refused_before_any_upstream_call(
    voiced: Shop, fake: FakeAudio, start_gateway: Callable[..., ServerThread], wav: Path
) -> None:
    poor = voiced.customer(300_000, group="pro")  # 2.5 s costs 375,000
    gateway = start_gateway()

    with pytest.raises(openai.APIStatusError) as refused:
        client(gateway, poor).audio.transcriptions.create(file=wav, model=WHISPER)

    assert refused.value.status_code == 402
    assert fake.requests == []
    assert charges(poor.user_id) == []


def test_nothing_is_billed_when_the_upstream_fails(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    fake.script(AudioReply(status=500), AudioReply(status=500))

    with pytest.raises(openai.APIStatusError) as failed:
        client(gateway, carol).audio.transcriptions.create(file=wav, model=WHISPER)
    with pytest.raises(openai.APIStatusError) as failed_speech:
        client(gateway, carol).audio.speech.create(model=TTS, voice="alloy", input=SPOKEN)

    assert failed.value.status_code == failed_speech.value.status_code == 502
    assert [r.charge for r in usage_for(2)] == [0, 0]
    assert charges(carol.user_id) == []


def test_an_upload_over_the_limit_is_refused_with_413(
    voiced: Shop, carol: Customer, fake: FakeAudio, start_gateway: Callable[..., ServerThread], wav: Path
) -> None:
    gateway = start_gateway(max_audio_upload_bytes=50_000)  # the WAV is 80,044 bytes

    with pytest.raises(openai.APIStatusError) as refused:
        client(gateway, carol).audio.transcriptions.create(file=wav, model=WHISPER)

    assert refused.value.status_code == 413
    assert refused.value.code == "request_too_large"
    assert "50000 bytes" in refused.value.message
    assert fake.requests == []


def test_a_missing_file_or_model_is_a_400_naming_it(
    gateway: ServerThread, carol: Customer, fake: FakeAudio, wav: Path
) -> None:
    url = f"{gateway.url}/v1/audio/transcriptions"
    auth = {"authorization": f"Bearer {carol.secret}"}
    sound = ("speech.wav", wav.read_bytes(), "audio/wav")
    cases = {
        "file": {"data": {"model": WHISPER}, "files": {"attachment": sound}},
        "model": {"files": {"file": sound}},
        "response_format": {"data": {"model": WHISPER, "response_format": "mp3"}, "files": {"file": sound}},
    }
    for param, parts in cases.items():
        response = httpx.post(url, headers=auth, timeout=10, **parts)  # type: ignore[arg-type]
        assert response.status_code == 400, param
        assert response.json()["error"]["param"] == param

    assert fake.requests == []


# Speech


def test_speech_bytes_reach_the_client_before_the_upstream_has_finished(
    gateway: ServerThread, carol: Customer, fake: FakeAudio
) -> None:
    release = threading.Event()
    reply = AudioReply(chunks=[b"ID3\x04first", b"second", b"third", b"last"], hold=release)
    fake.script(reply)

    speech = client(gateway, carol).audio.speech
    with speech.with_streaming_response.create(model=TTS, voice="alloy", input=SPOKEN) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        chunks = response.iter_bytes()
        early = b""
        while len(early) < len(b"ID3\x04first"):
            early += next(chunks)
        assert not fake.finished.is_set()  # the upstream still holds its last chunk
        release.set()
        rest = b"".join(chunks)

    assert early + rest == b"ID3\x04firstsecondthirdlast"
    seen = fake.requests[0]
    assert seen.headers["accept"] == "application/octet-stream"
    assert seen.body == {"model": "tts-1", "voice": "alloy", "input": SPOKEN}
    [record] = usage_for(1)
    assert record.endpoint == "speech"
    # 44 characters at $15 per 1M characters.
    assert record.charge == times_group(44 * CHAR_PRICE // 1_000) == 990_000
    assert record.meters == {"characters": [44, CHAR_PRICE]}


def test_speech_keeps_the_upstreams_content_type(
    gateway: ServerThread, carol: Customer, fake: FakeAudio
) -> None:
    fake.script(AudioReply(chunks=[b"RIFF....WAVE", b"data"], content_type="audio/wav"))

    reply = client(gateway, carol).audio.speech.with_raw_response.create(
        model=TTS, voice="alloy", input="hi", response_format="wav", speed=1.25
    )

    assert reply.headers["content-type"] == "audio/wav"
    assert reply.content == b"RIFF....WAVEdata"
    assert fake.requests[0].body["response_format"] == "wav"
    assert fake.requests[0].body["speed"] == 1.25


def test_speech_as_sse_relays_the_events_and_bills_their_tokens(
    gateway: ServerThread, carol: Customer, fake: FakeAudio
) -> None:
    fake.script(AudioReply(usage={"input_tokens": 12, "output_tokens": 300, "total_tokens": 312}))

    speech = client(gateway, carol).audio.speech
    with speech.with_streaming_response.create(
        model=TTS_TOKENS, voice="coral", input=SPOKEN, instructions="Cheerful.", stream_format="sse"
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]

    assert ['"speech.audio.delta"' in line for line in lines] == [True, True, True, False]
    assert '"speech.audio.done"' in lines[-1]
    assert fake.requests[0].headers["accept"] == "text/event-stream"
    [record] = usage_for(1)
    # 12 input tokens at $0.60 per 1M and 300 audio output tokens at $12 per 1M; characters unpriced.
    assert record.charge == times_group(12 * 600 + 300 * 12_000) == 5_410_800


def test_unaffordable_speech_is_refused_before_any_upstream_call(
    voiced: Shop, fake: FakeAudio, start_gateway: Callable[..., ServerThread]
) -> None:
    poor = voiced.customer(900_000, group="pro")  # the 44 characters cost 990,000
    gateway = start_gateway()

    with pytest.raises(openai.APIStatusError) as refused:
        client(gateway, poor).audio.speech.create(model=TTS, voice="alloy", input=SPOKEN)

    assert refused.value.status_code == 402
    assert fake.requests == []


def test_bad_speech_bodies_are_a_400_naming_the_field(
    gateway: ServerThread, carol: Customer, fake: FakeAudio
) -> None:
    speech = client(gateway, carol).audio.speech
    cases = {
        "input": {"model": TTS, "voice": "alloy", "input": ""},
        "voice": {"model": TTS, "input": SPOKEN, "voice": ""},
        "model": {"model": "", "voice": "alloy", "input": SPOKEN},
        "response_format": {"model": TTS, "voice": "alloy", "input": SPOKEN, "response_format": "ogg"},
        "speed": {"model": TTS, "voice": "alloy", "input": SPOKEN, "speed": 9},
    }
    for param, body in cases.items():
        with pytest.raises(openai.BadRequestError) as refused:
            speech.create(**body)  # type: ignore[arg-type]
        assert refused.value.param == param

    with pytest.raises(openai.BadRequestError) as too_long:
        speech.create(model=TTS, voice="alloy", input="a" * 4_097)
    assert too_long.value.param == "input"
    assert "4096" in too_long.value.message
    assert fake.requests == []


def test_an_unreadable_upload_is_held_by_size_and_billed_by_the_upstreams_duration(
    gateway: ServerThread, carol: Customer, fake: FakeAudio
) -> None:
    webm = b"\x1aE\xdf\xa3" + bytes(5_000)  # WebM: no header mutagen reads; held as 5,004 ms
    fake.script(AudioReply(duration=1.2))

    result = client(gateway, carol).audio.transcriptions.create(
        file=("voice.webm", webm, "audio/webm"), model=WHISPER, response_format="verbose_json"
    )

    assert result.duration == 1.2
    assert fake.requests[0].files["file"] == ("voice.webm", "audio/webm", webm)
    [record] = usage_for(1)
    assert record.held == times_group(5_004 * SECOND_PRICE // 1_000)
    assert record.charge == times_group(1_200 * SECOND_PRICE // 1_000) == 180_000


# The header reader


def test_a_header_mutagen_cannot_read_is_bounded_by_size_at_a_low_bitrate(wav: Path) -> None:
    assert audio_length(io.BytesIO(wav.read_bytes()), 80_044).ms == 2_500
    webm = b"\x1aE\xdf\xa3" + bytes(5_000)  # an EBML (WebM) start mutagen has no reader for
    length = audio_length(io.BytesIO(webm), len(webm))
    assert not length.measured
    assert length.ms == bound_ms(len(webm)) == len(webm)  # 8 kbit/s: one byte a millisecond
