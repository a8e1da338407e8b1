"""HAProxy in front of several processes: Debian's package, started by the benchmark in the foreground.

Two frontends on one HAProxy, so the bare pass-throughs and the data planes pay the same hop:
`gateway` balances the data planes (health-checked on `/api/ready`, as deploy/haproxy.cfg does)
and `bare` the pass-throughs. Round robin: wrk's connections are long-lived and equal.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.processes import REPO_ROOT, BenchError, Children, free_port, wait_for_http

INSTALL = REPO_ROOT / ".ci" / "haproxy"
# Each connection through HAProxy costs it two descriptors; this fits the 20,000 the bench raises to.
MAXCONN = 9_000


def ensure_haproxy() -> str:
    """The path of haproxy, installing Debian's package with .ci/haproxy when it is missing."""
    found = shutil.which("haproxy")
    if found:
        return found
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=600, check=False)
    found = shutil.which("haproxy")
    if not found:
        raise BenchError(f"haproxy is missing and .ci/haproxy could not install it: {done.stderr[-400:]}")
    return found


def config(fronts: dict[str, tuple[int, list[int], str]]) -> str:
    """An HAProxy configuration: per name, (listen port, backend ports, health-check path)."""
    lines = [
        "global",
        f"    maxconn {MAXCONN}",
        "defaults",
        "    mode http",
        f"    maxconn {MAXCONN}",
        "    timeout connect 3s",
        "    timeout client 5m",
        "    timeout server 5m",
        "    option http-keep-alive",
    ]
    for name, (port, backends, health) in fronts.items():
        lines += [
            f"frontend {name}",
            f"    bind 127.0.0.1:{port}",
            f"    default_backend {name}_pool",
            f"backend {name}_pool",
            "    balance roundrobin",
            "    option httpchk",
            f"    http-check send meth GET uri {health}",
            "    http-check expect status 200",
            "    default-server check inter 2s fall 2 rise 1 maxconn 4000",
        ]
        lines += [f"    server {name}{i} 127.0.0.1:{p}" for i, p in enumerate(backends)]
    return "\n".join(lines) + "\n"


def start_balancer(
    children: Children, workdir: Path, gateways: list[int], bares: list[int]
) -> tuple[subprocess.Popen, int, int]:
    """HAProxy over both pools; returns (process, gateway port, bare port) once both answer."""
    haproxy = ensure_haproxy()
    gateway_port, bare_port = free_port(), free_port()
    path = workdir / "haproxy.cfg"
    path.write_text(
        config({"gateway": (gateway_port, gateways, "/api/ready"), "bare": (bare_port, bares, "/live")})
    )
    log = workdir / "haproxy.log"
    proc = children.start([haproxy, "-db", "-f", str(path)], {}, log)
    wait_for_http(proc, gateway_port, "/api/ready", log)
    wait_for_http(proc, bare_port, "/live", log)
    return proc, gateway_port, bare_port
