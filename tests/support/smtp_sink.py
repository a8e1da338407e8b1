"""A tiny SMTP server on a free loopback port that keeps every mail it receives.

    with SmtpSink() as sink:
        ...  # point TOLLGATE_SMTP_URL at sink.url
        mail = sink.wait_for_mail()

It speaks just enough SMTP for smtplib (EHLO/HELO, AUTH PLAIN/LOGIN accepted, MAIL, RCPT, DATA,
RSET, NOOP, QUIT) and offers no STARTTLS, so the client stays on plain text.
"""

from __future__ import annotations

import email
import socketserver
import threading
import time
from email.message import Message
from types import TracebackType


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink ready")
        while line := self.rfile.readline():
            verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                self.reply("235 accepted")
            elif verb == "DATA":
                self.reply("354 end with a lone dot")
                self.server.keep(self.read_data())
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.reply("250 ok")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.mails: list[Message] = []
        self.arrived = threading.Condition()

    def keep(self, raw: bytes) -> None:
        with self.arrived:
            self.mails.append(email.message_from_bytes(raw))
            self.arrived.notify_all()


class SmtpSink:
    """The sink's server thread, its URL, and the mails received so far."""

    def __init__(self) -> None:
        self.server = _Server()
        self.port: int = self.server.server_address[1]
        self.url = f"smtp://tollgate:sink-password@127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="smtp-sink", daemon=True)

    @property
    def mails(self) -> list[Message]:
        return list(self.server.mails)

    def wait_for_mail(self, count: int = 1, timeout_s: float = 5.0) -> Message:
        """The `count`-th mail, waiting for it to arrive; AssertionError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self.server.arrived:
            while len(self.server.mails) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.server.mails)} mails arrived, expected {count}"
                self.server.arrived.wait(left)
            return self.server.mails[count - 1]

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
