"""Documents for agents, public on the data plane: `/llms.txt` (a short Markdown index, per the
llms.txt convention), `/llms-full.txt` (every enabled model with prices and capabilities) and
`/openapi.json` (dataplane/openapi.py).

Each is for one regional catalogue, chosen by `X-Platform` (intl when absent; any other value is a
400, dataplane/platform_header.py). They change only with the catalogue, so each is built once per
config version and platform and kept.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.catalogue import providers_of
from dataplane.endpoints import REGISTRY
from dataplane.gateway import Gateway
from dataplane.openapi import document, modalities_of, openapi_path
from dataplane.platform_header import VARY, public_platform
from dataplane.snapshot import ModelInfo, Snapshot
from shared.model_facts import io_modalities
from shared.platforms import DEFAULT_PLATFORM, PLATFORMS
from shared.price_sheet import price_sheet

MARKDOWN = "text/markdown; charset=utf-8"
Build = Callable[[Snapshot, str, str], bytes]  # (snapshot, public base URL, platform) -> the document


class PerVersion:
    """Built documents by name and platform, each kept until the snapshot (a new one per config
    version) or the base URL moves.

    Keyed by the snapshot object itself, not its version number: two gateways in one process (tests)
    may stand at the same version of different databases.
    """

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], tuple[Snapshot, str, bytes]] = {}

    def get(self, name: str, snapshot: Snapshot, base: str, platform: str, build: Build) -> bytes:
        kept = self._built.get((name, platform))
        if kept is None or kept[0] is not snapshot or kept[1] != base:
            kept = (snapshot, base, build(snapshot, base, platform))
            self._built[(name, platform)] = kept
        return kept[2]


BUILT = PerVersion()


def _models(snapshot: Snapshot, platform: str) -> list[ModelInfo]:
    offered = (m for m in snapshot.models.values() if m.routes and platform in m.platforms)
    return sorted(offered, key=lambda m: m.slug)


def llms_txt(snapshot: Snapshot, base: str, platform: str) -> bytes:
    """The short index: what this is, the base URL, auth, the endpoints and where the details are."""
    endpoints = [
        f"- `POST {openapi_path(path)}`: {endpoint.name} ({', '.join(modalities_of(endpoint))} models)"
        for endpoint in REGISTRY
        for path in endpoint.paths
    ]
    lines = [
        "# Tollgate",
        "",
        "> A self-hosted AI API gateway speaking the OpenAI API (and Anthropic's and Gemini's): one key,"
        " one balance, many models and providers, billed per request at the listed prices.",
        "",
        f'Base URL: `{base}/v1` (OpenAI SDKs: `base_url="{base}/v1"`).',
        "Auth: `Authorization: Bearer <key>` with a key from the console's API keys page.",
        f"Models: {len(_models(snapshot, platform))} enabled on the {platform} platform;"
        f" `GET {base}/v1/models` lists those a key may use, `GET {base}/api/v1/models` is the public"
        " catalogue (filters: modality, provider, capability, q, max_price; sort: slug, price, context,"
        " newest).",
        f"Platforms: {', '.join(PLATFORMS)}; a key belongs to one and sees only its models. Send"
        " `X-Platform: <platform>` to read these documents and the public catalogue for one (default"
        f" {DEFAULT_PLATFORM}).",
        'Errors: OpenAI\'s shape, `{"error": {"message", "type", "code", "param"}}`.',
        "",
        "## Docs",
        "",
        f"- [Every model with prices and capabilities]({base}/llms-full.txt)",
        f"- [OpenAPI 3.1 document]({base}/openapi.json)",
        f"- [Model catalogue JSON]({base}/api/v1/models)",
        "",
        "## Endpoints",
        "",
        *endpoints,
        "",
    ]
    return "\n".join(lines).encode()


def _model_section(model: ModelInfo) -> list[str]:
    inputs, outputs = io_modalities(model.modality, model.capabilities)
    prices = [f"  - {p.label}: ${p.as_json()['usd']} per {p.per}" for p in price_sheet(model.prices.to_map())]
    return [
        f"### {model.slug}",
        "",
        f"- Modality: {model.modality} (input: {', '.join(inputs)}; output: {', '.join(outputs)})",
        f"- Capabilities: {', '.join(model.capabilities) or 'none'}",
        f"- Context length: {model.context_length or 'not set'}",
        f"- Max output tokens: {model.max_output_tokens or 'not set'}",
        f"- Providers: {', '.join(providers_of(model))}",
        "- Prices (USD):",
        *prices,
        "",
    ]


def llms_full_txt(snapshot: Snapshot, base: str, platform: str) -> bytes:
    """The index followed by every enabled model of the platform with its prices, limits and capabilities."""
    lines = [llms_txt(snapshot, base, platform).decode(), "## Models", ""]
    for model in _models(snapshot, platform):
        lines += _model_section(model)
    return "\n".join(lines).encode()


def _openapi(snapshot: Snapshot, base: str, platform: str) -> bytes:
    return orjson.dumps(document(snapshot, base, platform))


def _serve(request: Request, name: str, build: Build, media_type: str) -> Response:
    gateway: Gateway = request.state.gateway
    platform = public_platform(request.headers)
    body = BUILT.get(name, gateway.snapshot, gateway.settings.public_base_url, platform, build)
    return Response(body, media_type=media_type, headers=VARY)


async def get_llms_txt(request: Request) -> Response:
    """GET /llms.txt (public)."""
    return _serve(request, "llms.txt", llms_txt, MARKDOWN)


async def get_llms_full_txt(request: Request) -> Response:
    """GET /llms-full.txt (public)."""
    return _serve(request, "llms-full.txt", llms_full_txt, MARKDOWN)


async def get_openapi(request: Request) -> Response:
    """GET /openapi.json (public)."""
    return _serve(request, "openapi.json", _openapi, "application/json")
