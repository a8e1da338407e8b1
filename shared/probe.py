"""A provider health probe: one tiny chat request to the provider, with its real key.

The console's "test" button calls this. It sends a 1-token request to the provider's own
endpoint (the same URL, key and body shape the data plane uses), so a wrong base URL, a
revoked key or an unknown model name show up here rather than in a customer's request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from shared.models import Provider, Route
from shared.provider_kinds import KINDS
from shared.settings import Secret
from shared.vault import VaultError, decrypt

MAX_PROBE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: success, the HTTP status (0 when none came), latency and a message."""

    ok: bool
    status: int
    latency_ms: int
    message: str
    model: str = ""


def probe_model(provider: Provider) -> str | None:
    """The upstream model name of the provider's first route (enabled routes first)."""
    route = (
        Route.select(Route.upstream_model)
        .where(Route.provider == provider.id)
        .order_by(Route.enabled.desc(), Route.priority.desc(), Route.id)
        .first()
    )
    return route.upstream_model if route else None


def _request(provider: Provider, key: str, model: str) -> tuple[str, dict, dict]:
    """The probe's URL, headers and body: the same path and credential headers the data plane uses."""
    kind = KINDS[provider.kind]
    url = kind.probe_url(provider.base_url, model)
    headers = {**kind.fixed_headers, **kind.auth_headers(key)}
    return url, headers, kind.probe_body(model)


def _error_text(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:200]
    return str(payload)[:200]


def probe(
    provider: Provider, secret_key: Secret, transport: httpx.BaseTransport | None = None
) -> ProbeResult:
    """Send one 1-token request through `provider` and report what happened."""
    model = probe_model(provider)
    if model is None:
        return ProbeResult(False, 0, 0, "no route uses this provider yet: add a model route first")
    try:
        key = decrypt(provider.api_key_encrypted, secret_key)
    except VaultError as exc:
        return ProbeResult(False, 0, 0, str(exc), model)
    url, headers, body = _request(provider, key, model)
    timeout = httpx.Timeout(min(provider.timeout_s, MAX_PROBE_TIMEOUT_S), connect=5.0)
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        return ProbeResult(False, 0, _ms(started), f"timed out calling {url}", model)
    except httpx.HTTPError as exc:
        return ProbeResult(False, 0, _ms(started), f"could not reach {url}: {exc}", model)
    latency = _ms(started)
    if response.is_success:
        return ProbeResult(True, response.status_code, latency, "the provider answered", model)
    return ProbeResult(
        False, response.status_code, latency, _error_text(response) or response.reason_phrase, model
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
