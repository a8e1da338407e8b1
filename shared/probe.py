"""A provider health probe: one tiny chat request to the provider, with its real key.

The console's "test" button calls this. It sends a 1-token request to the provider's own
endpoint (the same URL, key and body shape the data plane uses), so a wrong base URL, a
revoked key or an unknown model name show up here rather than in a customer's request.
While no route uses the provider yet, it reads the provider's model list instead (the same
base URL and key), which proves as much without a model; a kind with no list is not tested.
A provider without a key is called without any credential header.
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
    tested: bool = True  # False: nothing could be tried (no route, and the kind lists no models)


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


def probe_timeout_s(provider: Provider) -> float:
    """The longest a probe of `provider` waits for its answer."""
    return min(provider.timeout_s, MAX_PROBE_TIMEOUT_S)


def _listed(response: httpx.Response) -> str:
    """What a successful model list says: how many models it names."""
    try:
        payload = response.json()
    except ValueError:
        return "the provider answered"
    models = payload.get("data", payload.get("models")) if isinstance(payload, dict) else None
    count = f"{len(models)} models" if isinstance(models, list) else "its models"
    return f"the provider answered and lists {count}; add a model route to test a real call"


def probe(
    provider: Provider, secret_key: Secret, transport: httpx.BaseTransport | None = None
) -> ProbeResult:
    """Send one 1-token request through `provider` (or read its model list) and report what happened."""
    kind = KINDS[provider.kind]
    model = probe_model(provider)
    if model is None and kind.models_path is None:
        return ProbeResult(False, 0, 0, "nothing to test yet: add a model route first", tested=False)
    try:
        key = decrypt(provider.api_key_encrypted, secret_key)
    except VaultError as exc:
        return ProbeResult(False, 0, 0, str(exc), model or "")
    headers = {**kind.fixed_headers, **kind.auth_headers(key)}
    if model is None:
        url = provider.base_url.rstrip("/") + str(kind.models_path)
        request = httpx.Request("GET", url, headers=headers)
    else:
        url, headers, body = _request(provider, key, model)
        request = httpx.Request("POST", url, json=body, headers=headers)
    timeout_s = probe_timeout_s(provider)
    started = time.monotonic()
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5.0), transport=transport) as client:
            response = client.send(request)
    except httpx.TimeoutException:
        message = f"no answer from {url} within {timeout_s:g} s"
        return ProbeResult(False, 0, _ms(started), message, model or "")
    except httpx.HTTPError as exc:
        return ProbeResult(False, 0, _ms(started), f"could not reach {url}: {exc}", model or "")
    latency = _ms(started)
    if response.is_success:
        message = "the provider answered" if model else _listed(response)
        return ProbeResult(True, response.status_code, latency, message, model or "")
    return ProbeResult(
        False, response.status_code, latency, _error_text(response) or response.reason_phrase, model or ""
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
