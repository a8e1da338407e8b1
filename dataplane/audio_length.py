"""How long an uploaded recording is, read from its header (for holds and for billing per second).

The header is read with mutagen (WAV, MP3, FLAC, Ogg Vorbis/Opus, M4A/MP4, AIFF, ...), which
reads only the container's header and frame index, never decodes the audio. A format mutagen
cannot read (WebM from browsers, raw PCM, a damaged file) is given a conservative bound instead:
its length at `FLOOR_BITRATE_BPS`, lower than any speech codec a client really sends, so the
bound is longer than the recording can be. The bound sizes the hold; at settlement the
upstream's own report wins whenever it sends one (dataplane/dialects/audio.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import BinaryIO

import mutagen

log = logging.getLogger("tollgate.dataplane.audio")

# 8 kbit/s, i.e. 1,000 bytes a second: Opus voice at its lowest usual setting; everything else is denser.
FLOOR_BITRATE_BPS = 8_000
MS_PER_S = 1_000


@dataclass(frozen=True)
class AudioLength:
    """A recording's length in milliseconds, and whether it was read from the header (else bounded)."""

    ms: int
    measured: bool


def bound_ms(size: int) -> int:
    """The longest a recording of `size` bytes can be, at FLOOR_BITRATE_BPS (at least 1 ms)."""
    return max(math.ceil(size * 8 * MS_PER_S / FLOOR_BITRATE_BPS), 1)


def audio_length(file: BinaryIO, size: int) -> AudioLength:
    """The length of the recording in `file` (rewound afterwards); a bound when the header is unreadable."""
    try:
        file.seek(0)
        parsed = mutagen.File(file)
        seconds = getattr(getattr(parsed, "info", None), "length", None)
    except Exception as exc:  # a parser of untrusted bytes: any failure means "unreadable"
        log.info("audio header unreadable (%s): billing a bound by size", exc)
        seconds = None
    finally:
        file.seek(0)
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
        return AudioLength(bound_ms(size), False)
    return AudioLength(max(math.ceil(seconds * MS_PER_S - 1e-6), 1), True)
