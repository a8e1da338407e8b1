"""Status: is the service up, for everyone; how its parts are doing, for operators.

Visitors and customers see one line per part (the API, background jobs, USDT deposits) and the
version: nothing of providers, addresses or errors. Operators also see the data plane's own
report (uptime, database, Redis, providers cooling down, settlements queued), the worker's last
heartbeat, the deposit scanner's last success, lag and last error, the unsettled requests of the
last 24 h and the per-provider and per-route health table.

The console asks the data plane over HTTP (it never imports it); the page refreshes its panel
every few seconds with htmx and works once without JavaScript. Every word passes through the
console's catalogues (English, Vietnamese).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from flask import Blueprint, current_app
from flask_babel import gettext as _
from flask_babel import ngettext
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
    # The checks /api/ready names as failing (database, settlements, catalogue); None if not asked.
    failing: list[str] | None = None

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
    state: str  # "up", "degraded", "delayed" (deposits), "down" or "off"
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
        reason = _("cannot reach the gateway: %(error)s", error=type(exc).__name__)
        return GatewayStatus(False, url, error=reason)
    except ValueError:
        return GatewayStatus(False, url, error=_("the gateway answered something that is not JSON"))
    latency = int((time.monotonic() - started) * 1000)
    if not isinstance(payload, dict):
        return GatewayStatus(False, url, latency, _("unexpected answer from the gateway"))
    error = "" if response.status_code == 200 else _("the data plane cannot reach its database")
    return GatewayStatus(response.status_code == 200, url, latency, error, payload)


def fetch_failing_checks(base_url: str) -> list[str] | None:
    """The readiness checks the data plane fails (none when ready); None when it cannot be read."""
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            payload = client.get(base_url.rstrip("/") + "/api/ready").json()
    except (httpx.HTTPError, ValueError):
        return None
    failing = payload.get("failing") if isinstance(payload, dict) else None
    return [str(name) for name in failing] if isinstance(failing, list) else None


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
    """Seconds for people: "45 s", "12 min", "3 h 12 min", "2 d 4 h" (in the page's language)."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return _("%(s)s s", s=s)
    if s < 3600:
        return _("%(m)s min", m=s // 60)
    if s < 86_400:
        return _("%(h)s h %(m)s min", h=s // 3600, m=s % 3600 // 60)
    return _("%(d)s d %(h)s h", d=s // 86_400, h=s % 86_400 // 3600)


def since(iso: str, now: dt.datetime) -> str:
    """A naive-UTC ISO time as "2026-12-06 13:05:12 UTC (4 min ago)", or "never"."""
    if not iso:
        return _("never")
    at = dt.datetime.fromisoformat(iso)
    ago = duration((now - at).total_seconds())
    return _("%(time)s UTC (%(ago)s ago)", time=at.strftime("%Y-%m-%d %H:%M:%S"), ago=ago)


def clock(rfc3339: str | None) -> str:
    """A time of the data plane's report ("2026-12-06T13:05:12Z") as "13:05:12 UTC", or ""."""
    return dt.datetime.fromisoformat(rfc3339).strftime("%H:%M:%S UTC") if rfc3339 else ""


def error_words(error_class: str) -> str:
    """The data plane's error class in words: "cannot connect", "timed out", "HTTP 502"."""
    if error_class.startswith("http_"):
        return _("HTTP %(status)s", status=error_class.removeprefix("http_"))
    words = {
        "connect": _("cannot connect"),
        "timeout": _("timed out"),
        "invalid": _("invalid answer"),
        "stream": _("stream broke off"),
    }
    return words.get(error_class, error_class)


@dataclass(frozen=True)
class HealthRow:
    """One provider or route of the data plane's health report, as the operator's table shows it."""

    name: str
    route: bool
    state: str  # ok, degraded, cooling, down
    cooling_until: str  # "13:05:12 UTC", or "" when not cooling down
    last_error: str  # in words, or ""
    last_error_at: str
    windows: dict[str, Any]
    errors_5m: int
    errors_60m: int


def _errors(window: dict[str, Any]) -> int:
    """Failed requests of a report window (the report gives requests and the success rate)."""
    requests, rate = window.get("requests") or 0, window.get("success_rate")
    return 0 if rate is None else requests - round(rate * requests)


def health_row(name: str, item: dict[str, Any], route: bool) -> HealthRow:
    """A row of the health table from a provider or route of /v1/health/providers."""
    windows = item.get("windows") or {}
    last = item.get("last_error") or {}
    return HealthRow(
        name, route, str(item.get("state", "")), clock(item.get("cooling_until")),
        error_words(last["class"]) if last.get("class") else "", clock(last.get("at")), windows,
        _errors(windows.get("5m") or {}), _errors(windows.get("60m") or {}),
    )  # fmt: skip


def health_rows(report: list[dict[str, Any]]) -> list[HealthRow]:
    """Each provider of the report followed by its routes (model → upstream model)."""
    rows = []
    for provider in report:
        rows.append(health_row(f"{provider.get('name')} ({provider.get('kind')})", provider, False))
        for r in provider.get("routes") or []:
            rows.append(health_row(f"↳ {r.get('model')} → {r.get('upstream_model')}", r, True))
    return rows


def scanner_failures(failures: int) -> str:
    """How many scanner runs failed in a row, for the scanner's state."""
    return ngettext("%(num)s run in a row", "%(num)s runs in a row", failures)


def api_part(gateway: GatewayStatus) -> Part:
    """The API as a customer sees it: answering, answering without its database, or not at all."""
    if gateway.up:
        cooling = gateway.fact("providers", "cooling_down") or []
        if cooling:
            return Part(_("API"), "degraded", _("some models may answer slower"))
        return Part(_("API"), "up", "")
    if gateway.reachable:
        return Part(_("API"), "down", _("requests are refused until it is back"))
    return Part(_("API"), "down", _("not answering"))


def parts(gateway: GatewayStatus, health: overview.Health, now: dt.datetime) -> list[Part]:
    """The public summary: the API, the background jobs, USDT deposits."""
    waiting = "" if health.worker_alive else _("expired holds and deposits wait until they run")
    jobs = Part(_("Background jobs"), "up" if health.worker_alive else "down", waiting)
    if not health.scanner_configured:
        deposits = Part(_("USDT deposits"), "off", _("not offered"))
    elif health.scanner.delayed(now) or not health.worker_alive:
        deposits = Part(_("USDT deposits"), "delayed", _("crediting is delayed; nothing sent is lost"))
    else:
        deposits = Part(_("USDT deposits"), "up", _("credited after the network confirms them"))
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
        if gateway.reachable:
            gateway.failing = fetch_failing_checks(settings.public_base_url)
        if gateway.up:
            gateway.health = fetch_health(settings.public_base_url)
        context.update(
            gateway=gateway,
            health=health,
            health_rows=health_rows(gateway.health),
            scanner_failures=scanner_failures(health.scanner.failures),
            scanner_ok=since(health.scanner.last_ok, now),
            scanner_run=since(health.scanner.last_run, now),
            worker_seen=since(health.worker_seen.isoformat() if health.worker_seen else "", now),
            uptime=duration(gateway.fact("uptime_s")),
            unsettled=overview.unsettled_since(now - UNSETTLED_WINDOW),
        )
    return render_page("status/index.html", "status/_panel.html", **context)
