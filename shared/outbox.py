"""Mail waiting to be sent: queued in the same transaction as what it tells of, sent by the worker.

Queuing is part of the change (a credited deposit, a new key), so a mail is never lost to a crash
between the two, and no request waits on an SMTP server. The worker's `deliver` sends what is
queued; a mail that fails is tried again a few times, then kept with its last error.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from peewee import AutoField, CharField, DateTimeField, Expression, IntegerField, TextField, fn

from shared.db import BaseModel
from shared.mail import Mailer, send_mail
from shared.models import utcnow

MAX_ATTEMPTS = 5
BATCH = 100
NO_SMTP = "no SMTP server is set"

log = logging.getLogger("tollgate.outbox")


class OutgoingMail(BaseModel):
    """One queued mail (migration 0012)."""

    id = AutoField()
    to_address = CharField(max_length=254)
    subject = CharField(max_length=300)
    body = TextField()
    kind = CharField(max_length=32)  # deposit_credited | low_balance | key_created
    created_at = DateTimeField(default=utcnow, index=True)
    sent_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")

    class Meta:
        table_name = "outgoing_mail"


@dataclass(frozen=True)
class Delivery:
    """What one `deliver` run did."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0


def enqueue(to: str, subject: str, body: str, kind: str) -> OutgoingMail:
    """Queue a mail (call it inside the transaction of the change it tells of)."""
    return OutgoingMail.create(to_address=to, subject=subject[:300], body=body, kind=kind)


def _queued() -> Expression:
    return OutgoingMail.sent_at.is_null() & (OutgoingMail.attempts < MAX_ATTEMPTS)


def _due() -> list[OutgoingMail]:
    return list(OutgoingMail.select().where(_queued()).order_by(OutgoingMail.id).limit(BATCH))


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds: mail still to be tried (and since when), mail given up on."""

    queued: int
    oldest_queued: dt.datetime | None  # naive UTC
    given_up: int


def backlog() -> Backlog:
    """The outbox's depth, for the worker's /metrics."""
    queued, oldest = (
        OutgoingMail.select(fn.COUNT(OutgoingMail.id), fn.MIN(OutgoingMail.created_at))
        .where(_queued())
        .scalar(as_tuple=True)
    )
    given_up = (
        OutgoingMail.select()
        .where(OutgoingMail.sent_at.is_null() & (OutgoingMail.attempts >= MAX_ATTEMPTS))
        .count()
    )
    return Backlog(int(queued or 0), oldest, given_up)


def deliver(mailer: Mailer | None) -> Delivery:
    """Send the queued mail with `mailer`; with none, queued mail is dropped (kept, marked why)."""
    due = _due()
    if mailer is None:
        ids = [m.id for m in due]
        OutgoingMail.update(attempts=MAX_ATTEMPTS, last_error=NO_SMTP).where(
            OutgoingMail.id.in_(ids)
        ).execute()
        return Delivery(dropped=len(ids))
    sent = failed = 0
    for mail in due:
        try:
            send_mail(mailer, mail.to_address, mail.subject, mail.body)
        except OSError as exc:  # smtplib's errors are OSErrors too
            log.warning("could not send mail %s to %s: %s", mail.id, mail.to_address, exc)
            changes = {
                OutgoingMail.attempts: OutgoingMail.attempts + 1,
                OutgoingMail.last_error: str(exc)[:500],
            }
            failed += 1
        else:
            changes = {OutgoingMail.attempts: OutgoingMail.attempts + 1, OutgoingMail.sent_at: utcnow()}
            sent += 1
        OutgoingMail.update(changes).where(OutgoingMail.id == mail.id).execute()
    return Delivery(sent=sent, failed=failed)
