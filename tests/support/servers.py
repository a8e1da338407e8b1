"""Run an ASGI app with uvicorn on a free loopback port in a background thread.

    with ServerThread(app) as server:
        httpx.get(server.url + "/api/status")

The socket is bound by us (port 0, so the OS picks a free port) and handed to uvicorn; the
lifespan runs, and leaving the block shuts the server down cleanly (graceful, then bounded).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0


class ServerError(RuntimeError):
    """The server did not start (or stop) in time."""


class ServerThread:
    """One uvicorn server in one daemon thread."""

    def __init__(
        self, app: Any, log_level: str = "warning", graceful_s: float = 5.0, host: str = "127.0.0.1"
    ) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            app, lifespan="on", log_level=log_level, timeout_graceful_shutdown=graceful_s, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=f"uvicorn-{self.port}",
            daemon=True,
        )

    def start(self) -> ServerThread:
        """Start serving; returns once the app's lifespan startup has completed."""
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive():
                raise ServerError("the server exited during start-up (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the server did not start within {START_TIMEOUT_S}s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut down (lifespan shutdown included) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(STOP_TIMEOUT_S)
        self.socket.close()
        if self.thread.is_alive():
            raise ServerError(f"the server on port {self.port} did not stop within {STOP_TIMEOUT_S}s")

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
