"""`tollgate serve-api`, `tollgate serve-console` and `tollgate worker`: the three processes.

The data plane is named by its import string only, so the console package never imports it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.config import Config
from gunicorn.glogging import Logger

from console import create_app
from shared import jobs, logs
from shared.settings import Settings

DATAPLANE_FACTORY = "dataplane.app:create_app"
# Settings only newer gunicorns know. The control socket is one fixed path per user, so two
# consoles on one machine (or a console and a test run) would take it from each other.
OPTIONAL_GUNICORN_SETTINGS = {"control_socket_disable": True}


class JsonLogger(Logger):
    """gunicorn's error and access lines as JSON objects (TOLLGATE_LOG_FORMAT=json)."""

    def setup(self, cfg: Config) -> None:
        """gunicorn's own set-up, then every handler it made given the JSON formatter."""
        super().setup(cfg)
        logs.reformat(self.error_log)
        logs.reformat(self.access_log)


class ConsoleServer(BaseApplication):
    """gunicorn serving the console app, configured in code rather than from argv."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply our options to gunicorn's configuration."""
        for name, value in self.options.items():
            self.cfg.set(name, value)
        for name, value in OPTIONAL_GUNICORN_SETTINGS.items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self) -> Flask:
        """Build the console app in each worker (settings come from the environment)."""
        return create_app()


def console_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn settings for the console: a few threaded workers, logs on stderr."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "tollgate-console",
        "graceful_timeout": 10,
    }


def dataplane_argv(host: str, port: int, workers: int, access_log: bool) -> list[str]:
    """The command line of the data plane: uvicorn on its app factory, in a fresh interpreter.

    A fresh interpreter loads only the data plane: this CLI process has the console, gunicorn and
    the TRON code loaded as well (some 40 MB a data plane has no use for).
    """
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", DATAPLANE_FACTORY),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
        *("--loop", "uvloop", "--http", "httptools", "--lifespan", "on", "--log-level", "info"),
        "--access-log" if access_log else "--no-access-log",
    ]


@click.command("serve-api")
@click.option("--host", help="Listen address (default TOLLGATE_API_HOST, else 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default TOLLGATE_API_PORT, else 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="A log line per request (every request is in the usage records anyway; the line costs speed).",
)
def serve_api(host: str | None, port: int | None, workers: int, access_log: bool) -> None:
    """Run the data plane (/v1 and /api/status) under uvicorn; this process becomes it."""
    settings = Settings.from_env()
    argv = dataplane_argv(
        host or settings.api_host, settings.api_port if port is None else port, workers, access_log
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


@click.command("serve-console")
@click.option("--host", help="Listen address (default TOLLGATE_CONSOLE_HOST, else 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default TOLLGATE_CONSOLE_PORT, else 8001).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True)
def serve_console(host: str | None, port: int | None, workers: int, threads: int) -> None:
    """Run the web console under gunicorn."""
    settings = Settings.from_env()
    bind_port = settings.console_port if port is None else port
    options = console_options(host or settings.console_host, bind_port, workers, threads)
    if settings.log_format == "json":
        options["logger_class"] = JsonLogger
    ConsoleServer(options).run()


@click.command("worker")
def worker() -> None:
    """Run the one scheduler process (stale holds, reconciliation, heartbeat, deposits)."""
    jobs.main()
