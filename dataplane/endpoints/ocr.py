"""`POST /v1/ocr`: the text in an image, read by a vision chat model.

    {model?, image_url | image_b64} → {text, model, usage}

`image_url` is an http(s) or `data:image/...` URL, sent to the model as it is; `image_b64` is the
image's bytes in base64 (or a data URL), sent as a data URL whose type is read from the bytes.
A model the catalogue lists with capabilities but without `vision` is refused before any call.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from dataplane.billing import Caller
from dataplane.endpoints.base import Call
from dataplane.endpoints.chat_tasks import ChatTask, Task
from dataplane.errors import bad_request
from dataplane.gateway import Gateway

INSTRUCTION = (
    "Transcribe all the text in the image exactly as written, in reading order, keeping line breaks. "
    "Reply with the transcribed text only; reply with nothing if the image has no text."
)
ASK = "Transcribe the text in this image."
# The first bytes of each image format, and its media type.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "image/webp"),
)
URL_SCHEMES = ("http://", "https://", "data:image/")


def media_type(data: bytes) -> str | None:
    """The image type these bytes start with, or None if they are not an image we know."""
    for signature, kind in SIGNATURES:
        if data.startswith(signature) and (kind != "image/webp" or data[8:12] == b"WEBP"):
            return kind
    return None


def _from_base64(value: Any) -> str:
    """A data URL for `image_b64`; 400 when it is not base64 of a PNG, JPEG, GIF or WebP image."""
    if not isinstance(value, str) or not value.strip():
        raise bad_request("image_b64", "`image_b64` must be a non-empty base64 string.")
    if value.startswith("data:image/"):
        return value
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("image_b64", "`image_b64` is not valid base64.") from exc
    kind = media_type(data)
    if kind is None:
        raise bad_request("image_b64", "`image_b64` must hold a PNG, JPEG, GIF or WebP image.")
    return f"data:{kind};base64,{value}"


def image_url(body: dict[str, Any]) -> str:
    """The image as a URL for the chat message; exactly one of `image_url` and `image_b64` is given."""
    url, b64 = body.get("image_url"), body.get("image_b64")
    if (url is None) == (b64 is None):
        raise bad_request("image_url", "give exactly one of `image_url` and `image_b64`.")
    if b64 is not None:
        return _from_base64(b64)
    if not isinstance(url, str) or not url.startswith(URL_SCHEMES):
        raise bad_request("image_url", "`image_url` must be an http(s) URL or a data:image/... URL.")
    return url


class Ocr(ChatTask):
    name = "ocr"
    paths = ("/ocr",)

    def task(self, body: dict[str, Any]) -> Task:
        content = [
            {"type": "text", "text": ASK},
            {"type": "image_url", "image_url": {"url": image_url(body)}},
        ]
        return Task([{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": content}])

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        model = gateway.snapshot.models.get(call.model)
        if model is not None and model.capabilities and "vision" not in model.capabilities:
            raise bad_request("model", f"`{call.model}` cannot read images: use a model with vision.")

    def answer(self, call: Call, text: str) -> dict[str, Any]:
        return {"text": text.strip()}


ENDPOINT = Ocr()
