"""A TCP forwarder in a background thread: listens on one address, relays to another.

    with TcpForwarder("10.0.0.1", ("127.0.0.1", 5432)) as forwarder:   # forwarder.port
        ...

The test's PostgreSQL and Redis listen on 127.0.0.1 only; a data plane in another network
namespace reaches them through a forwarder on an address both namespaces can reach. Each
connection is two byte pumps (one per direction) on one asyncio loop; closing one side closes
the other.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

START_TIMEOUT_S = 10.0
CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until end of stream or an error, then close the far side."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # either end went away: the other end is closed below
    finally:
        writer.close()


class TcpForwarder:
    """Connections to (`host`, an ephemeral port) are relayed to `target`."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.host = host
        self.target = target
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"forwarder-{target[1]}", daemon=True)
        self._server: asyncio.Server | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(asyncio.start_server(self._relay, self.host, 0))
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        self._server.close()
        self.loop.run_until_complete(self._server.wait_closed())
        self.loop.close()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            reader, writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, writer), _pump(reader, client_writer))

    def start(self) -> TcpForwarder:
        """Listen; returns once the port is bound."""
        self.thread.start()
        if not self.ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the forwarder to {self.target} did not start")
        if self._error is not None:
            raise RuntimeError(f"the forwarder could not listen on {self.host}: {self._error}")
        return self

    def stop(self) -> None:
        """Stop listening and end the loop (open relays end with it)."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(START_TIMEOUT_S)

    def __enter__(self) -> TcpForwarder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
