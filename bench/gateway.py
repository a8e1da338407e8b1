"""Starting the servers under test: the fake upstream, data-plane processes and bare pass-throughs."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.processes import (
    BenchError,
    Children,
    free_port,
    http_get,
    listening_socket,
    log_tail,
    wait_for_http,
)

DATAPLANE_FACTORY = "dataplane.app:create_app"
PASSTHROUGH_FACTORY = "bench.passthrough:create_app"
CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Server:
    """A running child server on a loopback port."""

    proc: subprocess.Popen
    port: int
    log: Path
    command: str


def start_upstream(
    children: Children,
    workdir: Path,
    pace: tuple[str, ...] = (),
    name: str = "upstream",
) -> Server:
    """Start the fake upstream on a free port (paced by the `pace` arguments) and wait until it answers."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "bench.upstream", "--fd", str(sock.fileno()), *pace]
    log = workdir / f"{name}.log"
    proc = children.start(argv, dict(os.environ), log, pass_fds=[sock.fileno()])
    sock.close()
    wait_for_http(proc, port, "/stats", log)
    return Server(proc, port, log, " ".join(["python -m bench.upstream", *pace]))


def dataplane_argv(port: int, factory: str | None) -> list[str]:
    """uvicorn on the app `factory` (no access log), or `tollgate serve-api` (the Procfile's) when None.

    Not uvicorn's `--fd`: it wraps the descriptor as a UNIX socket, so connections would go without
    TCP_NODELAY and every response would wait ~40 ms for the client's delayed ACK.
    """
    if factory is None:
        tollgate = shutil.which("tollgate", path=str(Path(sys.executable).parent)) or "tollgate"
        return [tollgate, "serve-api", "--port", str(port)]
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
    ]


@dataclass(frozen=True)
class Backing:
    """What a data-plane process is started on: its database and, for several processes, Redis."""

    database_url: str
    secret_key: str
    redis_url: str | None = None
    redis_prefix: str = "tollgate:"


def dataplane_env(backing: Backing, port: int, var_dir: Path) -> dict[str, str]:
    """The environment of one data-plane process: our database, our Redis prefix or none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_") and k != "REDIS_URL"}
    env.update(
        DATABASE_URL=backing.database_url,
        TOLLGATE_SECRET_KEY=backing.secret_key,
        TOLLGATE_API_HOST="127.0.0.1",
        TOLLGATE_API_PORT=str(port),
        TOLLGATE_VAR_DIR=str(var_dir),
    )
    if backing.redis_url:
        env.update(REDIS_URL=backing.redis_url, TOLLGATE_REDIS_PREFIX=backing.redis_prefix)
    return env


def start_dataplane(
    children: Children, workdir: Path, backing: Backing, factory: str | None, name: str
) -> Server:
    """Start one data-plane process on a var/ dir of its own and wait until it is ready."""
    port = free_port()
    argv = dataplane_argv(port, factory)
    log = workdir / f"{name}.log"
    proc = children.start(argv, dataplane_env(backing, port, workdir / f"var-{name}"), log)
    wait_for_http(proc, port, "/api/ready", log, timeout_s=60)
    return Server(proc, port, log, " ".join([Path(argv[0]).name, *argv[1:]]))


def start_passthrough(children: Children, workdir: Path, upstream_port: int, name: str) -> Server:
    """Start one bare pass-through process (bench/passthrough.py) and wait until it answers."""
    port = free_port()
    argv = dataplane_argv(port, PASSTHROUGH_FACTORY)
    env = {**os.environ, "BENCH_UPSTREAM_URL": f"http://127.0.0.1:{upstream_port}"}
    log = workdir / f"{name}.log"
    proc = children.start(argv, env, log)
    wait_for_http(proc, port, "/live", log, timeout_s=60)
    return Server(proc, port, log, " ".join([Path(argv[0]).name, *argv[1:]]))


def post_chat(port: int, body: bytes, key: str) -> tuple[int, bytes]:
    """One chat completion over a fresh connection; returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        conn.request("POST", CHAT_PATH, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_answers(port: int, bodies: dict[str, bytes], key: str, log: Path) -> int:
    """Send one request of each mode and raise BenchError unless it is a proper answer; returns how many."""
    for mode, body in bodies.items():
        status, answer = post_chat(port, body, key)
        ok = status == 200 and (
            answer.rstrip().endswith(b"data: [DONE]") if mode == "stream" else b'"choices"' in answer
        )
        if not ok:
            raise BenchError(
                f"the gateway's {mode} answer is not a success ({status}): {answer[:500]!r}\n" + log_tail(log)
            )
    return len(bodies)


def upstream_served(port: int) -> dict[str, int]:
    """The fake upstream's count of completions served per bearer token."""
    status, body = http_get(port, "/stats", timeout=5)
    if status != 200:
        raise BenchError(f"the fake upstream's /stats answered {status}")
    return orjson.loads(body)["served"]
