"""Image replies in the format the client asked for (PROTOCOL §4.3), and what they bill.

The upstream is never told `response_format` (dataplane/image_requests.py), so it answers in its
model's own way: GPT image models in base64, DALL·E with URLs. Then, per image:

- asked `url`, got base64: the gateway keeps the bytes for an hour and answers with its own URL
  (dataplane/image_files.py); a client reading `.url` never finds `None` there;
- asked `b64_json`, got a URL: the gateway fetches the image (at most FETCH_LIMIT bytes, within
  FETCH_TIMEOUT_S) and answers with its base64, so a client reading `.b64_json` gets the bytes;
- asked neither, or got what was asked: the reply goes out byte for byte.

Failing to keep or fetch an image fails the call, billed nothing: the client got no image.
The URL fetched is one the operator's provider gave, requested through the same transport as
every upstream call.

Billing: the upstream's token usage when it reports one (gpt-image-1: `input_tokens` with
text and image tokens both on the input meter, `output_tokens` on the output meter), plus the
images returned on the call's image meter, so a model priced per image bills images and one
priced per token bills tokens. More images than asked for are cut to `n` (only `n` were held).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import logging
from typing import Any

import httpx
import orjson

from dataplane.errors import NO_RETRY, GatewayError, upstream_error
from dataplane.gateway import Gateway
from dataplane.image_files import ImageFiles
from dataplane.image_requests import ImageRequest
from dataplane.upstreams.base import openai_usage
from shared.money import TokenUsage

log = logging.getLogger("tollgate.dataplane.images")

FETCH_LIMIT = 64 * 1024 * 1024
FETCH_TIMEOUT_S = 60.0


def image_usage(payload: dict[str, Any], n: int, meter: str) -> tuple[list[dict[str, Any]], TokenUsage]:
    """The reply's images (at most `n`) and what they bill; 502 when the reply has no image list."""
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise upstream_error("The upstream provider's image reply has no list of images (`data`).")
    tokens = openai_usage(payload) or TokenUsage()
    return data[:n], dataclasses.replace(tokens, counts={meter: min(len(data), n)})


def files_of(gateway: Gateway) -> ImageFiles:
    return ImageFiles(gateway.settings.var_dir / "images")


def _decoded(item: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(item["b64_json"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise upstream_error("The upstream provider returned an image that is not valid base64.") from exc


def _kept(files: ImageFiles, images: list[bytes]) -> list[str]:
    try:
        return [files.put(data) for data in images]
    except OSError as exc:
        log.error("cannot keep generated images in %s: %s", files.directory, exc)
        raise GatewayError(
            500,
            "The gateway could not keep the generated image to serve its URL; ask for b64_json instead.",
            "server_error",
            "image_storage_failed",
            headers=NO_RETRY,  # a full or unwritable disk does not heal in a second
        ) from exc


async def as_urls(gateway: Gateway, call: ImageRequest, data: list[dict[str, Any]]) -> bool:
    """Replace base64 images by URLs of kept copies; whether anything changed."""
    wanted = [item for item in data if isinstance(item.get("b64_json"), str) and not item.get("url")]
    if not wanted:
        return False
    images = [_decoded(item) for item in wanted]
    names = await asyncio.to_thread(_kept, files_of(gateway), images)
    for item, name in zip(wanted, names, strict=True):
        del item["b64_json"]
        item["url"] = call.files_url + name
    return True


async def _fetched(gateway: Gateway, url: str) -> bytes:
    failed = "The upstream provider's image URL could not be fetched"
    try:
        request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(FETCH_TIMEOUT_S).as_dict()})
        if request.url.scheme not in ("http", "https"):
            raise upstream_error(f"{failed}: it is not an http(s) URL.")
        response = await gateway.send(request)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise upstream_error(f"{failed} ({type(exc).__name__}).") from exc
    try:
        if response.status_code != 200:
            raise upstream_error(f"{failed} (HTTP {response.status_code}).")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > FETCH_LIMIT:
                raise upstream_error(f"{failed}: the image is larger than {FETCH_LIMIT} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise upstream_error(f"{failed} ({type(exc).__name__}).") from exc
    finally:
        await response.aclose()


async def as_base64(gateway: Gateway, data: list[dict[str, Any]]) -> bool:
    """Replace image URLs by the images' base64; whether anything changed."""
    wanted = [item for item in data if isinstance(item.get("url"), str) and not item.get("b64_json")]
    if not wanted:
        return False
    images = await asyncio.gather(*(_fetched(gateway, item["url"]) for item in wanted))
    for item, image in zip(wanted, images, strict=True):
        del item["url"]
        item["b64_json"] = base64.b64encode(image).decode("ascii")
    return True


async def delivered(gateway: Gateway, call: ImageRequest, payload: dict[str, Any], content: bytes) -> bytes:
    """The reply's bytes with every image in the format asked for."""
    data = payload["data"]
    if call.response_format == "url":
        changed = await as_urls(gateway, call, data)
    elif call.response_format == "b64_json":
        changed = await as_base64(gateway, data)
    else:
        changed = False
    return orjson.dumps(payload) if changed else content
