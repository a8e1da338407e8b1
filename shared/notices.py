"""Mail that tells customers of their account: a deposit credited, a low balance, a new API key.

Each customer can turn each kind off and choose their own low-balance threshold (their account
page). A notice is queued in the outbox (shared/outbox.py) inside the transaction of what it
tells of; the worker sends it when an SMTP server is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import BigIntegerField, BooleanField, ForeignKeyField

from shared import outbox, site
from shared.billing import balances
from shared.db import BaseModel, write_transaction
from shared.errors import InvalidInput
from shared.models import LedgerEntry, User
from shared.money import format_usd

KINDS = ("deposit_credited", "low_balance", "key_created")


class NoticePreference(BaseModel):
    """A customer's choices (migration 0012); no row means every notice on, the site's threshold."""

    user = ForeignKeyField(User, primary_key=True, backref="+", on_delete="CASCADE")
    deposit_credited = BooleanField(default=True)
    low_balance = BooleanField(default=True)
    key_created = BooleanField(default=True)
    low_balance_threshold = BigIntegerField(null=True)  # nano-USD; None: the site's default
    # Set once the warning is queued, cleared when the balance is back above the threshold,
    # so a customer is warned once per dip, not once per worker run.
    low_balance_warned = BooleanField(default=False)

    class Meta:
        table_name = "notice_preference"


@dataclass(frozen=True)
class Preferences:
    """What a customer wants to be mailed about."""

    deposit_credited: bool = True
    low_balance: bool = True
    key_created: bool = True
    low_balance_threshold: int | None = None


def preferences(user_id: int) -> Preferences:
    """The customer's choices (the defaults when they never chose)."""
    row = NoticePreference.get_or_none(NoticePreference.user == user_id)
    if row is None:
        return Preferences()
    return Preferences(row.deposit_credited, row.low_balance, row.key_created, row.low_balance_threshold)


def save_preferences(user_id: int, prefs: Preferences) -> None:
    """Store the customer's choices; a new threshold re-arms the low-balance warning."""
    if prefs.low_balance_threshold is not None and prefs.low_balance_threshold < 0:
        raise InvalidInput("low_balance_threshold", "must not be negative")
    values = {
        "deposit_credited": prefs.deposit_credited,
        "low_balance": prefs.low_balance,
        "key_created": prefs.key_created,
        "low_balance_threshold": prefs.low_balance_threshold,
        "low_balance_warned": False,
    }
    NoticePreference.insert(user=user_id, **values).on_conflict(
        conflict_target=[NoticePreference.user],
        update={getattr(NoticePreference, name): value for name, value in values.items()},
    ).execute()


def _notify(user_id: int, kind: str, subject: str, body: str) -> bool:
    """Queue one notice if the customer wants this kind; True when queued."""
    if not getattr(preferences(user_id), kind):
        return False
    user = User.get_by_id(user_id)
    name = site.product_name()
    outbox.enqueue(user.email, f"{name}: {subject}", f"{body}\n\n— {name}\n", kind)
    return True


def deposit_credited(user_id: int, amount: int) -> bool:
    """Tell the customer a deposit was added to their balance (inside the crediting transaction)."""
    return _notify(
        user_id,
        "deposit_credited",
        f"deposit of ${format_usd(amount, 2)} credited",
        f"A deposit of ${format_usd(amount, 6)} was added to your balance.",
    )


def key_created(user_id: int, key_name: str, prefix: str) -> bool:
    """Tell the customer an API key was created on their account."""
    label = f"{key_name} ({prefix})" if key_name else prefix
    return _notify(
        user_id,
        "key_created",
        "a new API key was created",
        f"The API key {label} was created on your account. If it was not you, revoke it now "
        "on the API keys page and change your password.",
    )


def threshold_of(prefs: NoticePreference | None, default: int) -> int:
    """The customer's low-balance threshold, or the site's."""
    if prefs is None or prefs.low_balance_threshold is None:
        return default
    return prefs.low_balance_threshold


def warn_low_balances() -> int:
    """Queue a warning for each customer whose balance fell below their threshold; returns how many.

    Only customers with ledger history count (a new account with nothing on it is not "low").
    """
    default = site.low_balance_default()
    known = LedgerEntry.select(LedgerEntry.user).distinct()
    users = list(
        User.select().where((User.role == "customer") & (User.status == "active") & User.id.in_(known))
    )
    chosen = {p.user_id: p for p in NoticePreference.select().where(NoticePreference.user.in_(known))}
    money = balances(users)
    return sum(_check_one(u, money[u.id].balance, chosen.get(u.id), default) for u in users)


def _check_one(user: User, balance: int, prefs: NoticePreference | None, default: int) -> int:
    """Warn one customer once per dip below the threshold; re-arm when back above it."""
    threshold = threshold_of(prefs, default)
    low = balance < threshold
    was_warned = bool(prefs and prefs.low_balance_warned)
    if low == was_warned:
        return 0
    with write_transaction():
        NoticePreference.insert(user=user.id, low_balance_warned=low).on_conflict(
            conflict_target=[NoticePreference.user], update={NoticePreference.low_balance_warned: low}
        ).execute()
        if not low:
            return 0
        queued = _notify(
            user.id,
            "low_balance",
            "your balance is low",
            f"Your balance is ${format_usd(balance, 2)}, below ${format_usd(threshold, 2)}. "
            "Top it up so that your API keys keep working.",
        )
    return int(queued)
