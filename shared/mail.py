"""Outgoing mail over SMTP, configured by TOLLGATE_SMTP_URL and TOLLGATE_MAIL_FROM.

smtp://user:pass@host:port speaks plain SMTP and upgrades with STARTTLS when the server offers
it; smtps:// uses TLS from the start. User and password are optional and percent-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from shared.settings import Secret, Settings

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Mailer:
    """Where and as whom mail is sent."""

    host: str
    port: int
    tls: bool  # TLS from the first byte (smtps://)
    username: str
    password: Secret
    sender: str
    starttls: bool = True  # upgrade a plain connection when the server offers STARTTLS


def mailer_from(settings: Settings) -> Mailer | None:
    """The mailer the settings describe, or None when no SMTP server is configured."""
    if settings.smtp_url is None:
        return None
    parts = urlsplit(str(settings.smtp_url))
    tls = parts.scheme == "smtps"
    return Mailer(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if tls else 25),
        tls=tls,
        username=unquote(parts.username or ""),
        password=Secret(unquote(parts.password or "")),
        sender=settings.mail_from,
    )


def _connect(mailer: Mailer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if mailer.tls:
        return smtplib.SMTP_SSL(mailer.host, mailer.port, timeout=TIMEOUT_S, context=context)
    client = smtplib.SMTP(mailer.host, mailer.port, timeout=TIMEOUT_S)
    client.ehlo()
    if mailer.starttls and client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
    return client


def send_mail(mailer: Mailer, to: str, subject: str, body: str) -> None:
    """Send one plain-text mail; raises smtplib/OSError errors to the caller."""
    message = EmailMessage()
    message["From"] = mailer.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with _connect(mailer) as client:
        if mailer.username:
            client.login(mailer.username, str(mailer.password))
        client.send_message(message)
