"""Reading image requests (PROTOCOL §4.3): the fields the gateway bills by, checked, 400 naming the bad one.

Generations are JSON; edits and variations are multipart forms, whose fields are all strings (so
`n` arrives as "2"). Every other field goes to the upstream as it came, except `response_format`:
the gateway delivers the format asked for itself (dataplane/image_replies.py), since GPT image
models refuse the field (400 "Unknown parameter: 'response_format'") whatever its value.

What a call is held for (`hold_counts`, `prompt_bound`), in the meters of shared/meters.py:

- `{image_meter(size, quality): n}`, the images asked for. When the client names no size or
  quality, the model's own default as OpenAI documents it applies: DALL·E 3 and 2 make
  1024x1024 images of standard quality; GPT image models choose (`auto`, whose meter
  `image:auto:auto` falls back to `image`). A size or quality the meters cannot name (a new
  quality such as `xhigh`) is left out of the meter name, which then falls back the same way.
- Tokens, for models priced by the token: the prompt's UTF-8 size (a bound on its tokens) plus
  IMAGE_INPUT_TOKENS per uploaded image on the input meter, and per image asked for the output
  tokens OpenAI publishes for gpt-image-1 at that quality and size (OUTPUT_TOKENS; the high
  quality figures when the quality is unknown or `auto`, scaled up by pixel count for sizes
  beyond the table). These only size the hold; the charge follows the upstream's usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dataplane.bodies import MAX_OUTPUT_TOKENS, bounded_int, bounded_prompt
from dataplane.errors import bad_request
from dataplane.tokens import OVERHEAD_TOKENS
from dataplane.uploads import Form, Upload
from shared.meters import IMAGE_QUALITIES, IMAGE_SIZE_RE, image_meter
from shared.money import ceil_div

MAX_IMAGES = 10  # OpenAI's limit on `n` for every image model
FORMATS = ("url", "b64_json")
# Output tokens per image of gpt-image-1, from OpenAI's pricing table (per quality and size).
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
LARGEST_TABLE_PIXELS = 1024 * 1536
# Input tokens held per uploaded image (edits, variations): a generous allowance, since an image's
# input tokens depend on its size and the input fidelity asked for.
IMAGE_INPUT_TOKENS = 8_000
# The sizes and qualities of models whose defaults are not `auto` (OpenAI's API reference).
MODEL_DEFAULTS = {"dall-e-3": ("1024x1024", "standard"), "dall-e-2": ("1024x1024", "standard")}
AUTO = ("auto", "auto")
SIZE_PIXELS_RE = re.compile(r"^(\d+)x(\d+)$")


@dataclass
class ImageRequest:
    """One image call as the gateway bills and delivers it."""

    model: str
    prompt: str
    n: int
    size: str | None  # as asked (None: the model's default)
    quality: str | None
    response_format: str | None  # None: whatever the upstream gives
    images: int  # uploaded images (edits, variations)
    files_url: str  # where kept images are served, ending in "/"
    body: dict[str, Any] | None = None  # generations: the JSON body
    form: Form | None = None  # edits and variations

    def meter(self, defaults: tuple[str, str] = AUTO) -> str:
        """The image meter of this call's images (sizes and qualities the meters cannot name left out)."""
        size = self.size or defaults[0]
        quality = self.quality or defaults[1]
        return image_meter(
            size if IMAGE_SIZE_RE.match(size) else None, quality if quality in IMAGE_QUALITIES else None
        )

    def prompt_bound(self) -> int:
        return bounded_prompt(
            len(self.prompt.encode("utf-8")) + OVERHEAD_TOKENS + IMAGE_INPUT_TOKENS * self.images
        )

    def output_bound(self, defaults: tuple[str, str] = AUTO) -> int:
        """The output tokens held for all images asked for."""
        size = self.size or defaults[0]
        table = OUTPUT_TOKENS.get(self.quality or defaults[1], OUTPUT_TOKENS["high"])
        if size in table:
            return table[size] * self.n
        largest = max(table.values())
        match = SIZE_PIXELS_RE.match(size)
        pixels = int(match[1]) * int(match[2]) if match else 0
        # At most MAX_OUTPUT_TOKENS per image, so no client-written size can overflow a hold.
        return min(max(largest, ceil_div(largest * pixels, LARGEST_TABLE_PIXELS)), MAX_OUTPUT_TOKENS) * self.n

    def hold_counts(self, defaults: tuple[str, str]) -> dict[str, int]:
        """The non-prompt worst case: the images, and the output tokens of token-priced models.

        The output tokens go in `counts` too (a hold prices any meter there): an image call has no
        output cap to lower (`bills_output` is False), so they are held in full like the images.
        """
        return {self.meter(defaults): self.n, "output": self.output_bound(defaults)}


def model_defaults(names: list[str]) -> tuple[str, str]:
    """The default size and quality for the first of `names` (a slug, upstream models) that has them."""
    for name in names:
        base = name.rsplit("/", 1)[-1].lower()
        for model, defaults in MODEL_DEFAULTS.items():
            if base == model or base.startswith(model + "-"):
                return defaults
    return AUTO


def _text(name: str, value: Any, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "a non-empty string" if required else "a string"
        raise bad_request(name, f"`{name}` must be {what}.")
    return value


def _format(value: Any) -> str | None:
    if value is None or value in FORMATS:
        return value
    raise bad_request("response_format", "`response_format` must be `url` or `b64_json`.")


def _form_n(form: Form) -> int:
    value = form.value("n")
    if value is None:
        return 1
    number = int(value) if value.strip().lstrip("-").isdigit() else value
    return bounded_int({"n": number}, "n", 1, MAX_IMAGES) or 1


def parse_generation(body: dict[str, Any], files_url: str) -> ImageRequest:
    """Check a generations body."""
    model = _text("model", body.get("model"), required=True)
    prompt = _text("prompt", body.get("prompt"), required=True)
    if body.get("stream"):
        raise bad_request("stream", "Streaming image generation is not available through this gateway.")
    n = bounded_int(body, "n", 1, MAX_IMAGES) or 1
    size, quality = _text("size", body.get("size")), _text("quality", body.get("quality"))
    fmt = _format(body.get("response_format"))
    return ImageRequest(str(model), str(prompt), n, size, quality, fmt, 0, files_url, body=body)


def _images(form: Form) -> list[Upload]:
    uploads = form.files.get("image", []) + form.files.get("image[]", [])
    if not uploads:
        sent = "image" in form.fields or "image[]" in form.fields
        reason = "must be a file upload" if sent else "is required"
        raise bad_request("image", f"`image` {reason}: send the image as a file in the multipart form.")
    return uploads


def parse_upload(form: Form, files_url: str, prompt_required: bool) -> ImageRequest:
    """Check an edits or variations form."""
    model = _text("model", form.value("model"), required=True)
    images = _images(form)
    prompt = _text("prompt", form.value("prompt"), required=prompt_required) or ""
    if form.value("stream") == "true":
        raise bad_request("stream", "Streaming image edits are not available through this gateway.")
    size, quality = _text("size", form.value("size")), _text("quality", form.value("quality"))
    fmt = _format(form.value("response_format"))
    return ImageRequest(
        str(model), prompt, _form_n(form), size, quality, fmt, len(images), files_url, form=form
    )
