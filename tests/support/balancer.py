"""HAProxy for tests: Debian's package (installed by .ci/haproxy when missing), run in the foreground.

    reason = haproxy_unavailable()                  # None once `haproxy` is on PATH
    text = for_servers(DEPLOY_CONFIG.read_text(), "127.0.0.1:9000", {"a": "10.0.0.2:8000"})
    with Balancer(text, tmp_path) as balancer:      # balancer.url
        ...

The configuration run is deploy/haproxy.cfg itself, with its listen address and its data-plane
servers replaced and its console sections left out, so a test exercises the example operators copy.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / ".ci" / "haproxy"
DEPLOY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
KEPT_SECTIONS = ("global", "defaults", "frontend api", "backend dataplanes")
START_TIMEOUT_S = 15.0


def haproxy_unavailable() -> str | None:
    """Why HAProxy cannot run here, after trying to install it (None when it can)."""
    if shutil.which("haproxy"):
        return None
    try:
        done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"haproxy is not installed and installing it failed: {exc}"
    if shutil.which("haproxy"):
        return None
    return f"haproxy is not installed and apt-get could not install it: {done.stderr.strip()[-400:]}"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    """`haproxy -c -f path`: HAProxy's own validation of a configuration file."""
    return subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)


def sections(text: str) -> dict[str, list[str]]:
    """A configuration's sections by header line ("backend dataplanes"), comments dropped."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        content = raw.split("#", 1)[0].rstrip()
        if not content.strip():
            continue
        if not content[0].isspace():
            current = found.setdefault(" ".join(content.split()), [])
        else:
            current.append(content.strip())
    return found


def for_servers(text: str, bind: str, servers: dict[str, str]) -> str:
    """The data-plane part of `text` listening on `bind`, balancing over `servers` (name → address)."""
    parts = sections(text)
    lines: list[str] = []
    for header in KEPT_SECTIONS:
        lines.append(header)
        for setting in parts[header]:
            if header == "frontend api" and setting.startswith("bind "):
                setting = f"bind {bind}"
            if header == "backend dataplanes" and setting.startswith("server "):
                continue
            lines.append(f"    {setting}")
        if header == "backend dataplanes":
            lines.extend(f"    server {name} {address}" for name, address in servers.items())
    return "\n".join(lines) + "\n"


class Balancer:
    """`haproxy -db` on a configuration written under `directory`; its log goes to haproxy.log there."""

    def __init__(self, text: str, directory: Path, url: str) -> None:
        self.config = directory / "haproxy.cfg"
        self.config.write_text(text)
        self.log_path = directory / "haproxy.log"
        self.url = url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Balancer:
        """Start it; returns once its frontend accepts connections."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["haproxy", "-db", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log_path.read_text()}")
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not start listening")

    def stop(self) -> None:
        """SIGTERM (HAProxy's hard stop) and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
