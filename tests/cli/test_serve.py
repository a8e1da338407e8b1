"""`tollgate serve-console` and `tollgate serve-api` really serve, and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _first_answer(url: str, process: subprocess.Popen, seconds: float = 60.0) -> httpx.Response | None:
    """Poll `url` until the server answers (or the process dies, or time runs out)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url, timeout=5, follow_redirects=True)
        except httpx.TransportError:
            time.sleep(0.2)
    return None


def _serve(args: list[str], url_path: str, env: dict[str, str]) -> tuple[httpx.Response | None, int, str]:
    port = _free_port()
    command = [sys.executable, "-m", "console.cli", *args, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        response = _first_answer(f"http://127.0.0.1:{port}{url_path}", process)
    finally:
        process.send_signal(signal.SIGTERM)
        log, _ = process.communicate(timeout=30)
    return response, process.returncode, log


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "TOLLGATE_SECRET_KEY": "serve-test",
        "TOLLGATE_VAR_DIR": str(tmp_path),
    }


def test_serve_console_serves_the_console_under_gunicorn(database_url: str, tmp_path: Path) -> None:
    response, code, log = _serve(
        ["serve-console", "--workers", "1", "--threads", "2"], "/", _env(database_url, tmp_path)
    )
    assert response is not None, log
    assert response.status_code < 500 and "Tollgate" in response.text, log
    assert code == 0, log


def test_serve_api_serves_the_data_plane_under_uvicorn(database_url: str, tmp_path: Path) -> None:
    response, code, log = _serve(["serve-api"], "/api/status", _env(database_url, tmp_path))
    assert response is not None, log
    assert response.status_code == 200 and response.json()["status"] == "ok", log
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert "Application shutdown complete" in log and code in (0, -signal.SIGTERM), log
