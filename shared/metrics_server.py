"""A small HTTP server for a process that has no web server of its own (the worker): GET /metrics.

It runs in a daemon thread beside the scheduler; each scrape is handled on a thread of its own, so
a slow scrape never delays a job. Access follows the data plane's rule (shared/scrape_access.py).
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.scrape_access import FORBIDDEN, may_scrape
from shared.settings import Secret

log = logging.getLogger("tollgate.metrics")


class MetricsServer(ThreadingHTTPServer):
    """Serves one registry's metrics at /metrics to the clients `may_scrape` lets in."""

    daemon_threads = True

    def __init__(self, host: str, port: int, registry: CollectorRegistry, token: Secret | None) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.token = token
        super().__init__((host, port), MetricsHandler)

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the kernel's choice for 0 in tests)."""
        return self.server_address[1]

    def start(self) -> MetricsServer:
        """Serve in a daemon thread (it ends with the process, or at `shutdown`)."""
        threading.Thread(target=self.serve_forever, name="metrics-server", daemon=True).start()
        return self


class MetricsHandler(BaseHTTPRequestHandler):
    """GET /metrics; 403 for a client that may not scrape, 404 for any other path."""

    server: MetricsServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?", 1)[0] != "/metrics":
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")
        elif not may_scrape(self.client_address[0], self.headers.get("Authorization", ""), self.server.token):
            self._reply(403, FORBIDDEN.encode() + b"\n", "text/plain; charset=utf-8")
        else:
            self._reply(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # A scrape every 15 s is not news; http.server would print each one to stderr.
        log.debug(format, *args)


def serve_metrics(
    host: str, port: int, registry: CollectorRegistry, token: Secret | None
) -> MetricsServer | None:
    """Start serving, or log why not and return None: a taken port must not stop the jobs."""
    try:
        server = MetricsServer(host, port, registry, token)
    except OSError as exc:
        log.error("worker metrics not served on %s:%s: %s", host, port, exc)
        return None
    log.info("worker metrics on http://%s:%s/metrics", host, server.port)
    return server.start()
