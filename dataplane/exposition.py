"""GET /metrics (Prometheus text format), GET /api/live and GET /api/ready.

/metrics is for the operator's Prometheus, not for customers (who may scrape: shared/scrape_access.py,
the worker's rule too).
/api/live says the process's event loop answers (restart it when it does not); /api/ready says
it should get traffic (the database answers, the settlement writer keeps up, the catalogue is
loaded): a load balancer takes a process that is not ready out of its pool and sends it traffic
again when it is.
"""

from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from dataplane.errors import GatewayError
from dataplane.gateway import Gateway
from shared.scrape_access import FORBIDDEN, may_scrape


async def metrics(request: Request) -> Response:
    """Every metric of this process (dataplane/metrics.py), or 403 for a client that may not scrape."""
    gateway: Gateway = request.state.gateway
    client = request.client.host if request.client else ""
    if not may_scrape(client, request.headers.get("authorization", ""), gateway.settings.metrics_token):
        raise GatewayError(403, FORBIDDEN, "permission_error", "metrics_forbidden")
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def live(request: Request) -> Response:
    """200 while the event loop runs."""
    return Response(b'{"status":"live"}', media_type="application/json")


async def ready(request: Request) -> Response:
    """200 with every check passing, else 503 naming the ones that fail."""
    gateway: Gateway = request.state.gateway
    checks = gateway.readiness()
    failing = sorted(name for name, ok in checks.items() if not ok)
    body = {"status": "not ready" if failing else "ready", "checks": checks, "failing": failing}
    return Response(orjson.dumps(body), 503 if failing else 200, media_type="application/json")
