"""Many long streams at once: the client of the benchmark's slow-upstream runs.

`python -m bench.streams --port P --key K --streams 2000 ...` opens that many connections (spread
over `--ramp-s`), sends one streamed chat completion on each, and times every SSE event as it
arrives: time to first token (from the request's write to the first content event), and the gap
between consecutive events of a stream. Meanwhile it asks `--probe-path` every 50 ms on a
connection of its own: how long that takes is how late the server's event loop is. It prints one
JSON object: counts, errors by kind, and percentiles in milliseconds.

A raw asyncio protocol on uvloop, so the client costs little next to what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import orjson
import uvloop

PROBE_EVERY_S = 0.05
DONE = b"data: [DONE]"
EVENT = b"data: "


def percentile(values: list[float], q: float) -> float:
    """The `q` percentile (0–100) of `values` by nearest rank; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Tally:
    """What every stream saw."""

    ttft: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    open_now: int = 0
    most_open: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class StreamProtocol(asyncio.Protocol):
    """One connection, one request, one streamed answer."""

    def __init__(self, request: bytes, tally: Tally, finished: asyncio.Future) -> None:
        self.request, self.tally, self.finished = request, tally, finished
        self.head = b""
        self.status_ok: bool | None = None
        self.sent_at = 0.0
        self.last_event = 0.0
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.tally.open_now += 1
        self.tally.most_open = max(self.tally.most_open, self.tally.open_now)
        self.sent_at = time.monotonic()
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.status_ok is None:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            status_line, _, data = self.head.partition(b"\r\n")
            self.status_ok = b" 200 " in status_line + b" "
            if not self.status_ok:
                self.end(f"status {status_line[9:12].decode(errors='replace')}")
                return
            data = data.partition(b"\r\n\r\n")[2]
        if EVENT in data:
            if self.last_event == 0.0:
                self.tally.ttft.append(now - self.sent_at)
            else:
                self.tally.gaps.append(now - self.last_event)
            self.last_event = now
        self.tail = (self.tail + data)[-64:]
        if DONE in self.tail:
            self.end("")

    def end(self, error: str) -> None:
        if self.finished.done():
            return
        if error:
            self.tally.error(error)
        else:
            self.tally.ok += 1
        self.finished.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.tally.open_now -= 1
        self.end("closed before [DONE]")


def request_bytes(port: int, key: str, model: str) -> bytes:
    """The HTTP/1.1 request of one streamed chat completion."""
    body = orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": "Write a long story."}],
         "max_tokens": 600, "stream": True}
    )  # fmt: skip
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def one_stream(port: int, request: bytes, tally: Tally, timeout_s: float) -> None:
    """Open a connection, stream one answer, record it."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future = loop.create_future()
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: StreamProtocol(request, tally, finished), "127.0.0.1", port), 30
        )
    except (OSError, TimeoutError) as exc:
        tally.error(f"connect: {type(exc).__name__}")
        return
    try:
        await asyncio.wait_for(finished, timeout_s)
    except TimeoutError:
        tally.error("timeout")
        transport.close()


async def probe(port: int, path: str, tally: Tally, stop: asyncio.Event) -> None:
    """Time a tiny GET every PROBE_EVERY_S on one keep-alive connection until `stop`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ask = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        while not stop.is_set():
            started = time.monotonic()
            writer.write(ask)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            tally.probes.append(time.monotonic() - started)
            await asyncio.sleep(PROBE_EVERY_S)
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> dict:
    """Every stream, ramped up, with the probe alongside; the summary."""
    tally = Tally()
    request = request_bytes(args.port, args.key, args.model)
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(args.port, args.probe_path, tally, stop))
    started = time.monotonic()
    tasks = []
    for i in range(args.streams):
        tasks.append(asyncio.create_task(one_stream(args.port, request, tally, args.timeout_s)))
        if args.ramp_s and i % 50 == 49:
            await asyncio.sleep(args.ramp_s * 50 / args.streams)
    await asyncio.gather(*tasks)
    stop.set()
    await prober

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 2)

    return {
        "streams": args.streams, "ok": tally.ok, "errors": tally.errors, "most_open": tally.most_open,
        "seconds": round(time.monotonic() - started, 2),
        "ttft_p50_ms": ms(tally.ttft, 50), "ttft_p99_ms": ms(tally.ttft, 99),
        "gap_p50_ms": ms(tally.gaps, 50), "gap_p99_ms": ms(tally.gaps, 99), "gaps": len(tally.gaps),
        "probe_p50_ms": ms(tally.probes, 50), "probe_p99_ms": ms(tally.probes, 99),
        "probe_max_ms": ms(tally.probes, 100),
    }  # fmt: skip


def main() -> None:
    """Entry point: the summary as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--ramp-s", type=float, default=2.0, help="spread the connections over this long")
    parser.add_argument("--probe-path", default="/api/live")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    summary = uvloop.run(run(parser.parse_args()))
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    main()
