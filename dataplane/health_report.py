"""`GET /v1/health/providers`: public health per provider and per route, without secrets.

For each provider and each of its routes (public model × upstream model): a state (ok, degraded,
cooling, down), and over the last 5 and 60 minutes the requests, the success rate, p50/p95
latency to the response headers and p50/p95 time to first token; the last error class and when.
Base URLs and keys never appear. Read from this process's memory (dataplane/health.py): behind a
load balancer each process reports what it saw.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.gateway import Gateway
from dataplane.health import Health, Window
from dataplane.snapshot import ProviderInfo, RouteInfo, Snapshot

WINDOWS = (("5m", 5), ("60m", 60))
DEGRADED_BELOW = 0.95
DOWN_AFTER = 3  # every one of at least this many recent requests failed


def _rfc3339(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def _window(window: Window) -> dict[str, Any]:
    rate = None
    if window.requests:
        rate = round(max(window.requests - window.failures, 0) / window.requests, 4)
    return {
        "requests": window.requests,
        "success_rate": rate,
        "latency_ms": {"p50": _percentile(window.latencies, 0.5), "p95": _percentile(window.latencies, 0.95)},
        "ttft_ms": {"p50": _percentile(window.ttfts, 0.5), "p95": _percentile(window.ttfts, 0.95)},
    }


def _state(cooling: bool, provider_wide: bool, recent: Window) -> str:
    if cooling and provider_wide:
        return "down"
    if cooling:
        return "cooling"
    if recent.requests >= DOWN_AFTER and recent.failures >= recent.requests:
        return "down"
    if recent.failures and (
        recent.requests == 0 or (recent.requests - recent.failures) / recent.requests < DEGRADED_BELOW
    ):
        return "degraded"
    return "ok"


def _error(health: Health, scope: str, key: int) -> dict[str, str] | None:
    last = health.last_error(scope, key)
    return {"class": last[0], "at": _rfc3339(last[1])} if last else None


def _until(monotonic_until: float, now: float) -> str | None:
    return _rfc3339(time.time() + monotonic_until - now) if monotonic_until > now else None


def _route(health: Health, route: RouteInfo, slug: str, now: float) -> dict[str, Any]:
    until = health.route_cooling_until(route.id)
    return {
        "model": slug,
        "upstream_model": route.upstream_model,
        "state": _state(until > now, False, health.window("route", route.id, 5)),
        "windows": {name: _window(health.window("route", route.id, m)) for name, m in WINDOWS},
        "last_error": _error(health, "route", route.id),
        "cooling_until": _until(until, now),
    }


def _provider(
    health: Health, provider: ProviderInfo, routes: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    until = health.provider_cooling_until(provider.id)
    return {
        "name": provider.name,
        "kind": provider.kind,
        "state": _state(until > now, True, health.window("provider", provider.id, 5)),
        "windows": {name: _window(health.window("provider", provider.id, m)) for name, m in WINDOWS},
        "last_error": _error(health, "provider", provider.id),
        "cooling_until": _until(until, now),
        "routes": sorted(routes, key=lambda r: (r["model"], r["upstream_model"])),
    }


def report(snapshot: Snapshot, health: Health) -> dict[str, Any]:
    """The health report of every enabled provider and its routes."""
    now = health.clock()
    routes: dict[int, list[dict[str, Any]]] = {p.id: [] for p in snapshot.providers}
    for slug, model in snapshot.models.items():
        for route in model.routes:
            routes.setdefault(route.provider.id, []).append(_route(health, route, slug, now))
    providers = [_provider(health, p, routes.get(p.id, []), now) for p in snapshot.providers]
    return {
        "object": "health.providers",
        "generated_at": _rfc3339(time.time()),
        "windows": [name for name, _ in WINDOWS],
        "providers": sorted(providers, key=lambda p: p["name"]),
    }


async def providers_health(request: Request) -> Response:
    """GET /v1/health/providers (public)."""
    gateway: Gateway = request.state.gateway
    body = report(gateway.snapshot, gateway.health)
    return Response(orjson.dumps(body), media_type="application/json")
