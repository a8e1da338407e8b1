"""Status: is the gateway up, and how are its database and providers, from the data plane's /api/status.

The console asks the data plane over HTTP (it never imports it); the page refreshes the panel
every few seconds with htmx and works once without JavaScript.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from flask import Blueprint, current_app

from console.htmx import render_page

bp = Blueprint("status", __name__, url_prefix="/status")

TIMEOUT = httpx.Timeout(3.0, connect=2.0)


@dataclass
class GatewayStatus:
    """What the data plane said about itself, or why it could not be asked."""

    up: bool
    checked_url: str
    latency_ms: int = 0
    error: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)
    # The data plane's /v1/health/providers report (per provider and route), when it answered.
    health: list[dict[str, Any]] = field(default_factory=list)


def _providers(raw: Any) -> list[dict[str, Any]]:
    """Per-provider rows when the data plane lists them (a summary dict stays among the facts)."""
    if isinstance(raw, list):
        return [p if isinstance(p, dict) else {"name": str(p)} for p in raw]
    return []


def fetch_status(base_url: str) -> GatewayStatus:
    """Ask the data plane at `base_url` for /api/status."""
    url = base_url.rstrip("/") + "/api/status"
    started = time.monotonic()
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.get(url)
        payload = response.json()
    except httpx.HTTPError as exc:
        return GatewayStatus(False, url, error=f"cannot reach the gateway: {type(exc).__name__}")
    except ValueError:
        return GatewayStatus(False, url, error="the gateway answered something that is not JSON")
    latency = int((time.monotonic() - started) * 1000)
    if not isinstance(payload, dict):
        return GatewayStatus(False, url, latency, "unexpected answer from the gateway")
    providers = _providers(payload.get("providers"))
    facts = {k: v for k, v in payload.items() if not (k == "providers" and providers)}
    return GatewayStatus(response.status_code == 200, url, latency, "", facts, providers)


def fetch_health(base_url: str) -> list[dict[str, Any]]:
    """The providers of the data plane's health report; none when it cannot be read (the page still works)."""
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            payload = client.get(base_url.rstrip("/") + "/v1/health/providers").json()
    except (httpx.HTTPError, ValueError):
        return []
    providers = payload.get("providers") if isinstance(payload, dict) else None
    return [p for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []


@bp.get("")
def index():
    """The status page (and, for htmx's periodic refresh, just its panel)."""
    base_url = current_app.config["TOLLGATE"].public_base_url
    status = fetch_status(base_url)
    if status.up:
        status.health = fetch_health(base_url)
    return render_page("status/index.html", "status/_panel.html", status=status)
