"""A data plane in its own process (`tollgate serve-api`), for tests that kill it for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DataPlaneProcess:
    """`tollgate serve-api` on a loopback port with the test's database, secret and var/ dir.

    `host` and `port` pick another address, and `wrap` goes before the command line, e.g.
    `("ip", "netns", "exec", "ns-a")` to run it inside a network namespace (which execs it, so
    `kill` still reaches the data plane itself).
    """

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int | None = None,
        wrap: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = free_port() if port is None else port
        self.url = f"http://{host}:{self.port}"
        self.wrap = wrap
        self.extra_env = env
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "TOLLGATE_SECRET_KEY": str(settings.secret_key),
            "TOLLGATE_VAR_DIR": str(settings.var_dir),
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, seconds: float = 60.0) -> DataPlaneProcess:
        command = [
            *self.wrap,
            sys.executable,
            "-m",
            "console.cli",
            "serve-api",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the data plane exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/api/status", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the data plane did not start")

    def again(self) -> DataPlaneProcess:
        """A new process (not started) with this one's settings, address and environment."""
        return DataPlaneProcess(self.settings, self.host, self.port, self.wrap, **self.extra_env)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no drain, nothing flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        """SIGTERM and wait; returns what it logged."""
        if self.process is None or self.process.poll() is not None:
            return ""
        self.process.send_signal(signal.SIGTERM)
        _, log = self.process.communicate(timeout=60)
        return log
