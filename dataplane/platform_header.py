"""The `X-Platform` request header: which regional catalogue (shared/platforms.py) a request means.

With a key, the key's platform rules: the header may repeat it and is otherwise a 400, so a client
configured for one region never silently gets another region's catalogue. Without a key (the
public catalogue and the documents for agents), the header chooses the catalogue, "intl" when it
is absent, the platform a new key belongs to. Any value other than a platform's name is a 400.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from dataplane.errors import bad_request
from shared.platforms import DEFAULT_PLATFORM, PLATFORMS

HEADER = "x-platform"
PARAM = "X-Platform"  # how errors name it
VARY = {"vary": "X-Platform"}  # public answers differ by the header: caches must keep them apart


def header_platform(headers: Headers) -> str | None:
    """The platform the request names in `X-Platform`, or None; 400 for any other value."""
    value = headers.get(HEADER)
    if value is None:
        return None
    platform = value.strip().lower()
    if platform not in PLATFORMS:
        raise bad_request(
            PARAM, f"X-Platform: must be one of {', '.join(PLATFORMS)}, got {value!r}.", "invalid_platform"
        )
    return platform


def check_key_platform(headers: Headers, key_platform: str) -> None:
    """400 when the request's `X-Platform` names another platform than its key's."""
    platform = header_platform(headers)
    if platform is not None and platform != key_platform:
        raise bad_request(
            PARAM,
            f"X-Platform: this API key belongs to the {key_platform} platform; send X-Platform:"
            f" {key_platform} or leave the header out.",
            "platform_mismatch",
        )


def public_platform(headers: Headers) -> str:
    """The catalogue a request without a key sees: its `X-Platform`, else the default."""
    return header_platform(headers) or DEFAULT_PLATFORM
