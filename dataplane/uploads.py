"""Multipart uploads (audio to transcribe, images to edit): read within a size limit, sent on in chunks.

The body is parsed as it arrives (Starlette's multipart parser over python-multipart); each file
goes into a spooled temporary file (memory up to 1 MiB, then disk), so a 25 MiB upload never sits
whole in memory. The limit is counted on the bytes received, not on what the client declared, and
a body past it is refused with 413 as soon as it passes. Sending upstream re-reads the spool in
chunks (httpx streams file objects), and failing over to another route rewinds it first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from dataplane.errors import bad_request, too_large

MAX_FIELDS = 100
MAX_FILES = 4  # an audio file; an image edit takes more (its endpoint says how many)
MAX_FIELD_BYTES = 64 * 1024


@dataclass
class Upload:
    """One uploaded file: its form field, name, type, size and the spooled bytes."""

    field: str
    filename: str
    content_type: str
    size: int
    file: BinaryIO

    def rewound(self) -> BinaryIO:
        """The file, positioned at its start (each upstream attempt reads it whole)."""
        self.file.seek(0)
        return self.file

    def head(self, size: int = 64 * 1024) -> bytes:
        """The first `size` bytes (e.g. to read an audio header)."""
        data = self.rewound().read(size)
        self.file.seek(0)
        return data


@dataclass
class Form:
    """A parsed multipart body: text fields (a name may repeat) and files."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)
    size: int = 0

    def value(self, name: str) -> str | None:
        """The first value of a text field, or None."""
        values = self.fields.get(name)
        return values[0] if values else None

    def file(self, name: str) -> Upload | None:
        """The first file of a field, or None."""
        files = self.files.get(name)
        return files[0] if files else None

    def close(self) -> None:
        """Drop the spooled files."""
        for uploads in self.files.values():
            for upload in uploads:
                upload.file.close()

    def upstream_fields(self, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        """The text fields as (name, value) pairs for the upstream request."""
        return [(name, value) for name, values in self.fields.items() if name not in skip for value in values]

    def upstream_files(self) -> list[tuple[str, tuple[str, BinaryIO, str]]]:
        """The files as httpx `files=` entries, each rewound."""
        return [
            (name, (u.filename, u.rewound(), u.content_type))
            for name, uploads in self.files.items()
            for u in uploads
        ]


async def _counted(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        yield chunk


def _upload(name: str, item: UploadFile) -> Upload:
    item.file.seek(0, 2)
    size = item.file.tell()
    item.file.seek(0)
    content_type = item.content_type or "application/octet-stream"
    return Upload(name, item.filename or name, content_type, size, item.file)  # type: ignore[arg-type]


async def read_form(request: Request, limit: int, max_files: int = MAX_FILES) -> tuple[bytes, Form]:
    """The multipart body as a `Form` (and an empty raw body); 413 beyond `limit` bytes, 400 if malformed."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request(None, "This endpoint takes a multipart/form-data body (a file upload).")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    parser = MultiPartParser(
        request.headers,
        _counted(request, limit),
        max_files=max_files,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
    )
    try:
        parsed = await parser.parse()
    except MultiPartException as exc:
        raise bad_request(None, f"The multipart body could not be read: {exc.message}") from exc
    form = Form()
    for name, item in parsed.multi_items():
        if isinstance(item, UploadFile):
            upload = _upload(name, item)
            form.files.setdefault(name, []).append(upload)
            form.size += upload.size
        else:
            form.fields.setdefault(name, []).append(_text(item))
    return b"", form


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
