"""`POST /v1/images/generations`, `/edits` and `/variations` (PROTOCOL §4.3), and the kept images' URLs.

Served only by providers that have OpenAI's Images API natively. Generations are JSON; edits
(one or several `image` or `image[]` files, an optional `mask`) and variations (one `image`) are
multipart forms, read within `max_image_upload_bytes` (413 beyond) and sent on with `model`
rewritten. How a call is held and billed: dataplane/image_requests.py and image_replies.py.
`GET {prefix}/images/files/{name}` serves the images the gateway kept for URL replies
(dataplane/image_files.py): no API key, the unguessable name is the permission.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from dataplane.billing import Caller, Reservation
from dataplane.bodies import read_json
from dataplane.endpoints.base import Call, Endpoint, NativeReply
from dataplane.errors import GatewayError
from dataplane.gateway import Gateway
from dataplane.image_files import media_type_of
from dataplane.image_replies import delivered, files_of, image_usage
from dataplane.image_requests import ImageRequest, model_defaults, parse_generation, parse_upload
from dataplane.snapshot import RouteInfo
from dataplane.tokens import estimate_tokens
from dataplane.uploads import Form, read_form
from dataplane.upstreams.base import Upstream
from dataplane.upstreams.openai import OpenAIUpstream
from shared.settings import Settings

# Files an edit may upload: OpenAI's GPT image models take up to 16 images, plus the mask.
MAX_EDIT_FILES = 17


def files_url(request: Request) -> str:
    """Where this request's kept images are served: under the API prefix the client used."""
    prefix = request.url.path.rsplit("/images/", 1)[0]
    return f"{request.url.scheme}://{request.url.netloc}{prefix}/images/files/"


class Images(Endpoint):
    """What the three image endpoints share: the hold, the reply, the billing."""

    modality = "image"
    bills_output = False
    translatable = False

    def call_of(self, wanted: ImageRequest) -> Call:
        return Call(wanted.model, False, wanted.prompt_bound(), None, wanted, n=wanted.n)

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        wanted: ImageRequest = call.parsed
        model = gateway.snapshot.models[call.model]
        defaults = model_defaults([call.model, *(route.upstream_model for route in model.routes)])
        call.extra["meter"] = wanted.meter(defaults)
        call.counts = wanted.hold_counts(defaults)

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        data, usage = image_usage(payload, call.n, call.extra["meter"])
        if len(data) < len(payload["data"]):
            payload["data"] = data
            content = orjson.dumps(payload)
        call.extra["payload"] = payload
        return NativeReply(content, usage, 0)

    async def complete_reply(self, gateway: Gateway, call: Call, native: NativeReply) -> NativeReply:
        native.content = await delivered(gateway, call.parsed, call.extra["payload"], native.content)
        return native

    def counted_prompt(self, call: Call) -> int:
        return estimate_tokens(call.parsed.prompt)


class Generations(Images):
    name = "images"
    paths = ("/images/generations",)

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        raw, body = await read_json(request, settings.max_body_bytes)
        return raw, (body, files_url(request))

    def parse(self, raw: bytes, body: Any, headers: httpx.Headers | Any) -> Call:
        json_body, where = body
        return self.call_of(parse_generation(json_body, where))

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        body = {k: v for k, v in call.parsed.body.items() if k != "response_format"}
        return adapter.native_request(
            route, "/images/generations", body, {"x-request-id": r.caller.request_id}
        )


@dataclass
class ImageForm(Form):
    """A multipart image upload, with where its kept images will be served."""

    files_url: str = ""


class Uploads(Images):
    """Edits and variations: multipart forms of images sent on as they came."""

    upstream_path = ""
    prompt_required = False

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        raw, form = await read_form(request, settings.max_image_upload_bytes, MAX_EDIT_FILES)
        return raw, ImageForm(form.fields, form.files, form.size, files_url(request))

    def parse(self, raw: bytes, body: Any, headers: httpx.Headers | Any) -> Call:
        return self.call_of(parse_upload(body, body.files_url, self.prompt_required))

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        assert isinstance(adapter, OpenAIUpstream)  # the only kind with the Images API natively
        form: Form = call.parsed.form
        fields = form.upstream_fields(skip=("response_format",))
        headers = {"x-request-id": r.caller.request_id}
        return adapter.native_form(route, self.upstream_path, fields, form.upstream_files(), headers)


class Edits(Uploads):
    name = "image_edits"
    paths = ("/images/edits",)
    upstream_path = "/images/edits"
    prompt_required = True


class Variations(Uploads):
    name = "image_variations"
    paths = ("/images/variations",)
    upstream_path = "/images/variations"


GENERATIONS = Generations()
EDITS = Edits()
VARIATIONS = Variations()
ENDPOINTS = (GENERATIONS, EDITS, VARIATIONS)


async def get_file(request: Request) -> Response:
    """`GET {prefix}/images/files/{name}`: a kept image, or 404 once it expired."""
    gateway: Gateway = request.state.gateway
    files = files_of(gateway)
    name = request.path_params["name"]
    found = await asyncio.to_thread(files.find, name)
    if found is None:
        raise GatewayError(404, "This image does not exist or has expired.", code="image_not_found")
    path, remaining = found
    headers = {"cache-control": f"private, max-age={remaining}", "x-content-type-options": "nosniff"}
    return FileResponse(path, media_type=media_type_of(name), headers=headers)
