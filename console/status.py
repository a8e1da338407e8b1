"""Status: is the service up, for everyone; how its parts are doing, for operators.

Visitors and customers see one line per part (the API, background jobs, USDT deposits) and the
version: nothing of providers, addresses or errors. Operators also see the data plane's own
report (uptime, database, Redis, providers cooling down, settlements queued), the worker's last
heartbeat, the deposit scanner's last success, lag and last error, the unsettled requests of the
last 24 h and the per-provider and per-route health table.

The console asks the data plane over HTTP (it never imports it); the page refreshes its panel
every few seconds with htmx and works once without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from flask import Blueprint, current_app
from flask_login import current_user

from console.htmx import render_page
from shared import overview
from shared.models import utcnow

bp = Blueprint("status", __name__, url_prefix="/status")

TIMEOUT = httpx.Timeout(3.0, connect=2.0)
UNSETTLED_WINDOW = dt.timedelta(hours=24)


@dataclass
class GatewayStatus:
    """What the data plane said about itself, or why it could not be asked."""

    up: bool
    checked_url: str
    latency_ms: int = 0
    error: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    # The data plane's /v1/health/providers report (per provider and route), when it answered.
    health: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reachable(self) -> bool:
        """The data plane answered with its report (ready or not)."""
        return bool(self.facts)

    def fact(self, *path: str) -> Any:
        """A nested value of the report, or None."""
        value: Any = self.facts
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class Part:
    """One line of the public summary: a part of the service and how it is doing."""

    name: str
    state: str  # "up", "degraded", "down" or "off"
    note: str


def fetch_status(base_url: str) -> GatewayStatus:
    """Ask the data plane at `base_url` for /api/status (503 there means up but not ready)."""
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
    error = "" if response.status_code == 200 else "the data plane cannot reach its database"
    return GatewayStatus(response.status_code == 200, url, latency, error, payload)


def fetch_health(base_url: str) -> list[dict[str, Any]]:
    """The providers of the data plane's health report; none when it cannot be read (the page still works)."""
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            payload = client.get(base_url.rstrip("/") + "/v1/health/providers").json()
    except (httpx.HTTPError, ValueError):
        return []
    providers = payload.get("providers") if isinstance(payload, dict) else None
    return [p for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []


def duration(seconds: float | None) -> str:
    """Seconds for people: "45 s", "12 min", "3 h 12 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} d {s % 86_400 // 3600} h"


def since(iso: str, now: dt.datetime) -> str:
    """A naive-UTC ISO time as "2026-12-06 13:05:12 UTC (4 min ago)", or "never"."""
    if not iso:
        return "never"
    at = dt.datetime.fromisoformat(iso)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC ({duration((now - at).total_seconds())} ago)"


def api_part(gateway: GatewayStatus) -> Part:
    """The API as a customer sees it: answering, answering without its database, or not at all."""
    if gateway.up:
        cooling = gateway.fact("providers", "cooling_down") or []
        if cooling:
            return Part("API", "degraded", "some models may answer slower")
        return Part("API", "up", "")
    if gateway.reachable:
        return Part("API", "down", "requests are refused until it is back")
    return Part("API", "down", "not answering")


def parts(gateway: GatewayStatus, health: overview.Health, now: dt.datetime) -> list[Part]:
    """The public summary: the API, the background jobs, USDT deposits."""
    jobs = Part("Background jobs", "up" if health.worker_alive else "down",
                "" if health.worker_alive else "expired holds and deposits wait until they run")  # fmt: skip
    if not health.scanner_configured:
        deposits = Part("USDT deposits", "off", "not offered")
    elif health.scanner.delayed(now) or not health.worker_alive:
        deposits = Part("USDT deposits", "degraded", "crediting is delayed; nothing sent is lost")
    else:
        deposits = Part("USDT deposits", "up", "credited after the network confirms them")
    return [api_part(gateway), jobs, deposits]


@bp.get("")
def index():
    """The status page (and, for htmx's periodic refresh, just its panel)."""
    settings = current_app.config["TOLLGATE"]
    now = utcnow()
    gateway = fetch_status(settings.public_base_url)
    health = overview.health(settings.secret_key, now)
    operator = current_user.is_authenticated and current_user.is_operator
    context: dict[str, Any] = {
        "parts": parts(gateway, health, now),
        "version": gateway.fact("version"),
        "checked_at": now,
        "operator": operator,
    }
    if operator:
        if gateway.up:
            gateway.health = fetch_health(settings.public_base_url)
        context.update(
            gateway=gateway,
            health=health,
            scanner_ok=since(health.scanner.last_ok, now),
            scanner_run=since(health.scanner.last_run, now),
            worker_seen=since(health.worker_seen.isoformat(), now) if health.worker_seen else "never",
            uptime=duration(gateway.fact("uptime_s")),
            unsettled=overview.unsettled_since(now - UNSETTLED_WINDOW),
        )
    return render_page("status/index.html", "status/_panel.html", **context)
