"""Running wrk (installing it if missing) and reading the line its Lua `done()` prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
CHAT_SCRIPT = LUA_DIR / "chat.lua"
RESULT_RE = re.compile(r"^BENCH (.*)$", re.MULTILINE)
APT_TIMEOUT_S = 300


class WrkError(RuntimeError):
    """wrk could not be installed or did not produce a result."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured. Latencies in microseconds; error counts as wrk reports them."""

    requests: int
    duration_us: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: int

    @property
    def rps(self) -> float:
        """Completed requests per second (any status)."""
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def ok(self) -> int:
        """Requests answered with a status below 400 (wrk counts >= 400 as status errors)."""
        return self.requests - self.status_errors

    @property
    def errors(self) -> int:
        """Every failure wrk saw: non-2xx/3xx answers and socket errors."""
        return self.status_errors + self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def describe_errors(self) -> str:
        """ "0", or the failing classes, e.g. "status 12, timeout 3"."""
        parts = [
            f"{name} {count}"
            for name, count in (
                ("non-2xx", self.status_errors),
                ("connect", self.connect_errors),
                ("read", self.read_errors),
                ("write", self.write_errors),
                ("timeout", self.timeouts),
            )
            if count
        ]
        return ", ".join(parts) or "0"


def ensure_wrk() -> str:
    """The path of wrk, installing the Debian package (after `apt-get update` if needed)."""
    found = shutil.which("wrk")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if _run_quiet(install, env) != 0:
        _run_quiet(["apt-get", "update", "-q"], env)
        if _run_quiet(install, env) != 0:
            raise WrkError("could not install wrk with apt-get; install it and run again")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def _run_quiet(argv: list[str], env: dict[str, str]) -> int:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, timeout=APT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 1
    return done.returncode


def wrk_version(wrk: str) -> str:
    """wrk's version from `wrk -v`, e.g. "wrk 4.1.0 [epoll]"."""
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout + done.stderr).strip().split("\n")[0]
    return first.split(" Copyright")[0] or "wrk"


def run_wrk(
    wrk: str, url: str, connections: int, duration_s: float, body: str, key: str, cpus: set[int] | None = None
) -> WrkResult:
    """Run wrk with one thread and `connections` keep-alive connections against `url`."""
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "-s",
        str(CHAT_SCRIPT),
        url,
    ]
    if cpus:
        argv = ["taskset", "-c", ",".join(str(c) for c in sorted(cpus)), *argv]
    env = {**os.environ, "BENCH_BODY": body, "BENCH_KEY": key}
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from exc
    return parse_result(done.stdout, done.stderr)


def parse_result(stdout: str, stderr: str = "") -> WrkResult:
    """Read the `BENCH key=value ...` line our Lua script prints."""
    match = RESULT_RE.search(stdout)
    if match is None:
        raise WrkError(f"wrk printed no result line:\n{stdout}\n{stderr}")
    values = dict(item.split("=", 1) for item in match.group(1).split())
    return WrkResult(
        requests=int(values["requests"]),
        duration_us=int(values["duration_us"]),
        connect_errors=int(values["connect"]),
        read_errors=int(values["read"]),
        write_errors=int(values["write"]),
        status_errors=int(values["status"]),
        timeouts=int(values["timeout"]),
        p50_us=int(values["p50_us"]),
        p90_us=int(values["p90_us"]),
        p99_us=int(values["p99_us"]),
        max_us=int(values["max_us"]),
        mean_us=int(values["mean_us"]),
    )
