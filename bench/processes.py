"""Child processes of the benchmark: started on inherited loopback sockets, always stopped.

`Children` is a context manager; every process it starts is terminated (then killed) when the
block exits, whether by success, an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

STOP_GRACE_S = 15.0
REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def listening_socket() -> socket.socket:
    """A socket listening on a free loopback port, inheritable by a child process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that bind by number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a loopback URL; returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a child's log, for error messages."""
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Children:
    """Starts child processes and stops all of them on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Children:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in reversed(self.procs):
            stop(proc)

    def start(
        self, argv: Sequence[str], env: dict[str, str], log: Path, pass_fds: Sequence[int] = ()
    ) -> subprocess.Popen:
        """Start `argv` with its output going to `log`; it is stopped when the block exits."""
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=tuple(pass_fds),
                start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            )
        self.procs.append(proc)
        return proc


def stop(proc: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> int | None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_for_http(proc: subprocess.Popen, port: int, path: str, log: Path, timeout_s: float = 30.0) -> bytes:
    """Poll GET `path` until it answers 200; raise BenchError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"process exited with {proc.returncode} before answering:\n{log_tail(log)}")
        try:
            status, body = http_get(port, path)
        except OSError as exc:
            last = repr(exc)
        else:
            if status == 200:
                return body
            last = f"HTTP {status}: {body[:200]!r}"
        time.sleep(0.1)
    raise BenchError(f"GET {path} did not answer 200 within {timeout_s:.0f} s ({last}):\n{log_tail(log)}")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a live process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, all its threads, in seconds."""
    # The command name (field 2) may contain spaces; the fields after it are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raise_interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes the same path as Ctrl-C, so the `finally` blocks stop every child.
    raise KeyboardInterrupt
