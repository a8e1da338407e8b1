"""One benchmark setup running: its database, its data planes, as many bare pass-throughs, a balancer.

A setup names the database (SQLite or PostgreSQL), how many data-plane processes, whether they
share Redis and whether HAProxy stands in front. The bare pass-throughs are started in the same
number and behind the same balancer, so every ratio compares like with like.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.balancer import start_balancer
from bench.gateway import Backing, Server, start_dataplane, start_passthrough
from bench.processes import Children, cpu_seconds, stop
from bench.seed import Seeded, seed
from shared.settings import Secret

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Setup:
    """What one setup runs; `connections` are the wrk concurrencies measured on it."""

    key: str
    database: str
    processes: int
    balanced: bool
    connections: tuple[int, ...]

    @property
    def label(self) -> str:
        """How the report names it."""
        redis = "+Redis" if self.processes > 1 or self.balanced else ""
        front = " behind HAProxy" if self.balanced else ""
        noun = "process" if self.processes == 1 else "processes"
        return f"{self.database}{redis}, {self.processes} {noun}{front}"


SETUPS = {
    s.key: s
    for s in (
        Setup("sqlite-1", "sqlite", 1, False, (1, 16)),
        Setup("postgres-1", "postgres", 1, False, (16,)),
        Setup("lb-1", "postgres", 1, True, (16,)),
        Setup("lb-2", "postgres", 2, True, (16,)),
        Setup("lb-4", "postgres", 4, True, (16,)),
    )
}


@dataclass
class Cluster:
    """The running processes of one setup and where to send load."""

    setup: Setup
    seeded: Seeded
    gateways: list[Server]
    bares: list[Server]
    gateway_port: int
    bare_port: int
    balancer: subprocess.Popen | None = None
    extra: list[str] = field(default_factory=list)

    def cpu(self, which: str) -> float:
        """Summed CPU seconds of the data planes ("gateway") or of the pass-throughs ("bare")."""
        servers = self.gateways if which == "gateway" else self.bares
        return sum(cpu_seconds(s.proc.pid) for s in servers)

    def stop_front(self) -> None:
        """Stop the balancer and the pass-throughs (the data planes keep settling)."""
        if self.balancer is not None:
            stop(self.balancer)
        for server in self.bares:
            stop(server.proc)

    def stop_gateways(self) -> list[int | None]:
        """SIGTERM every data plane (they close their leases and flush); their exit codes."""
        return [stop(server.proc) for server in self.gateways]


def start_cluster(
    children: Children, directory: Path, setup: Setup, url: str, upstream_port: int, factory: str | None
) -> Cluster:
    """Seed the empty database at `url`, then start the processes of `setup` (logs in `directory`)."""
    secret = secrets.token_urlsafe(32)
    seeded = seed(url, upstream_port, Secret(secret), upstream_key=f"sk-upstream-{setup.key}")
    shared = setup.processes > 1 or setup.balanced
    backing = Backing(url, secret, REDIS_URL if shared else None, f"bench-{secrets.token_hex(4)}:")
    gateways = [
        start_dataplane(children, directory, backing, factory, f"dataplane-{i}")
        for i in range(setup.processes)
    ]
    bares = [
        start_passthrough(children, directory, upstream_port, f"bare-{i}") for i in range(setup.processes)
    ]
    if not setup.balanced:
        return Cluster(setup, seeded, gateways, bares, gateways[0].port, bares[0].port)
    balancer, gateway_port, bare_port = start_balancer(
        children, directory, [g.port for g in gateways], [b.port for b in bares]
    )
    return Cluster(setup, seeded, gateways, bares, gateway_port, bare_port, balancer)
