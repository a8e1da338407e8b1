"""Generated images kept for an hour, for clients that asked for URLs (PROTOCOL §4.3).

GPT image models answer only in base64. A client that asked for `response_format: "url"` reads
`data[i].url`, so the gateway keeps such an image's bytes and answers with a URL of its own,
`GET {prefix}/images/files/{id}.{ext}`, that works for an hour, as OpenAI's own image URLs do.
The id is 32 random URL-safe characters (192 bits): the URL itself is the permission, like
OpenAI's signed URLs, so a browser or a plain `httpx.get` can fetch it without an API key.

Where: files in `<var dir>/images/`, not a database table. An image is written once, read a few
times and thrown away within the hour; megabytes of base64 do not belong in the billing database
(its write-ahead log, backups and replicas would carry every image, and every data plane reads
that database on its hot path). Every data-plane process of an installation shares the var dir,
so any process can serve an image another kept; data planes on several hosts need that directory
on shared storage. Expired files are never served (the file's age is checked on each read) and are
deleted by a sweep that runs at most once a minute across all processes (a marker file's age
says when the last one ran), on the next write.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

TTL_S = 3_600
SWEEP_EVERY_S = 60
MARKER = ".swept"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{32}\.(png|jpeg|webp|gif|bin)$")
MEDIA_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bin": "application/octet-stream",
}


def extension_of(data: bytes) -> str:
    """The file extension for an image's bytes, by their signature."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "bin"


def media_type_of(name: str) -> str:
    """The content type a kept file is served with."""
    return MEDIA_TYPES[name.rsplit(".", 1)[1]]


class ImageFiles:
    """The directory of kept images (safe to create per use: it holds no state of its own)."""

    def __init__(self, directory: Path, ttl_s: float = TTL_S) -> None:
        self.directory = directory
        self.ttl_s = ttl_s

    def put(self, data: bytes) -> str:
        """Keep an image; returns its file name (id and extension), the last part of its URL."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{secrets.token_urlsafe(24)}.{extension_of(data)}"
        partial = self.directory / f".{name}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # Renamed whole, so a reader never sees half a file.
        os.replace(partial, self.directory / name)
        self._sweep_if_due()
        return name

    def find(self, name: str) -> tuple[Path, int] | None:
        """A kept image's path and the whole seconds it has left; None if unknown, expired or malformed."""
        if not NAME_RE.match(name):
            return None
        path = self.directory / name
        try:
            left = self.ttl_s - (time.time() - path.stat().st_mtime)
        except OSError:
            return None
        return (path, int(left)) if left > 0 else None

    def sweep(self) -> int:
        """Delete every expired image (and abandoned partial writes); returns how many went."""
        cutoff = time.time() - self.ttl_s
        removed = 0
        for path in self.directory.iterdir():
            if path.name == MARKER:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # Another process swept it first.
        return removed

    def _sweep_if_due(self) -> None:
        marker = self.directory / MARKER
        try:
            due = time.time() - marker.stat().st_mtime >= SWEEP_EVERY_S
        except FileNotFoundError:
            due = True
        if due:
            marker.touch()
            self.sweep()
