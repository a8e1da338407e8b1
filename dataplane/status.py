"""GET /api/status: public, cheap health (no database call on the request path)."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dataplane.gateway import Gateway
from shared.heartbeat import worker_status
from shared.models import utcnow


def _version() -> str:
    try:
        return version("tollgate")
    except PackageNotFoundError:
        return "unknown"


VERSION = _version()


async def status(request: Request) -> Response:
    """Version, uptime, whether the database answered the last config poll, providers summary.

    503 when the database is unreachable, so a load balancer can take this process out.
    """
    gateway: Gateway = request.state.gateway
    checked_ago = time.monotonic() - gateway.db_checked_at
    reachable = gateway.database_reachable()
    providers = gateway.snapshot.providers
    cooling = gateway.health.cooling_providers()
    body = {
        "status": "ok" if reachable else "degraded",
        "version": VERSION,
        "uptime_s": int(time.time() - gateway.started_at),
        "database": {"reachable": reachable, "checked_s_ago": round(checked_ago, 1)},
        # Rate-limit counters; when Redis is down they fail open, so this process stays in service.
        "redis": gateway.limiter.redis_status,
        "providers": {
            "total": len(providers),
            "available": sum(1 for p in providers if p.id not in cooling),
            "cooling_down": sorted(p.name for p in providers if p.id in cooling),
            "routes_cooling_down": len(gateway.health.cooling_routes()),
        },
        # The worker expires dead requests' holds and credits deposits; serving goes on without it.
        "worker": worker_status(gateway.worker_beat, utcnow()),
        "models": sum(1 for m in gateway.snapshot.models.values() if m.routes),
        "settlements_queued": gateway.settler.queued,
    }
    return Response(orjson.dumps(body), 200 if reachable else 503, media_type="application/json")
