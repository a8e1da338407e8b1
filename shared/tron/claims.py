""" "I've paid": a customer names a transaction id and it is checked at once.

The claim is only a hint. Verification is the scanner's (solid TransactionInfo, strict log
reading) and a log is credited to the owner of the receiving address, whoever submitted it; the
submitter's address also becomes "hot" so that the scanner watches it closely for a while.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import KeyValue, utcnow
from shared.tron.config import TronConfig
from shared.tron.models import TronAddress, TronDeposit
from shared.tron.node import TronNode
from shared.tron.scanner import known_addresses, record_all
from shared.tron.verification import findings

TXID_RE = re.compile(r"^[0-9a-fA-F]{64}$")
HOT_FOR = dt.timedelta(hours=2)
MIN_INTERVAL = dt.timedelta(seconds=3)


class TooManyClaims(Exception):
    """The customer submitted another claim a moment ago."""


@dataclass
class ClaimResult:
    """What a claim found: "credited", "recorded", "already", "pending", "not_found" or "not_yours"."""

    status: str
    message: str
    deposits: list[TronDeposit] = field(default_factory=list)


def parse_txid(text: str) -> str:
    """A transaction id: exactly 64 hex characters (tronpy itself checks only the length)."""
    value = (text or "").strip().lower().removeprefix("0x")
    if not TXID_RE.match(value):
        raise InvalidInput("txid", "a transaction id is 64 hexadecimal characters")
    return value


def mark_hot(address: TronAddress, now: dt.datetime | None = None) -> None:
    """Ask the scanner to watch this address closely for the next two hours."""
    until = (now or utcnow()) + HOT_FOR
    TronAddress.update(hot_until=until).where(TronAddress.id == address.id).execute()


def throttle(user_id: int, now: dt.datetime | None = None) -> None:
    """Allow one claim per user every few seconds (a conditional update, so races are safe)."""
    now = now or utcnow()
    key, stamp = f"tron_claim.{user_id}", now.isoformat()
    with write_transaction():
        KeyValue.insert(key=key, value="").on_conflict_ignore().execute()
        took = (
            KeyValue.update(value=stamp)
            .where((KeyValue.key == key) & (KeyValue.value <= (now - MIN_INTERVAL).isoformat()))
            .execute()
        )
    if took != 1:
        raise TooManyClaims("wait a few seconds before checking another transaction")


def claim(user_id: int, text: str, config: TronConfig, node: TronNode, address: TronAddress) -> ClaimResult:
    """Check one transaction for the customer now; raises InvalidInput or NodeUnavailable."""
    txid = parse_txid(text)
    mark_hot(address)
    mine = _already_recorded(config.network, txid, user_id)
    if mine:
        return ClaimResult("already", "This transaction was already recorded.", mine)
    info = node.transaction_info(txid, solid=True)
    if info is None:
        if node.transaction_info(txid, solid=False) is not None:
            return ClaimResult(
                "pending", "Seen on chain, not solidified yet: it will be credited within minutes."
            )
        return ClaimResult("not_found", "The node does not know this transaction (yet).")
    heads = node.heads()
    found = findings(info, known_addresses(), config.usdt_hex, config.min_deposit_micro, heads.solid)
    recorded = record_all(found, config, "claim")
    yours = [d for d in recorded if d.user_id == user_id] or _already_recorded(config.network, txid, user_id)
    if not yours:
        return ClaimResult("not_yours", "This transaction sent nothing to your deposit address.")
    credited = any(d.status == "credited" for d in yours)
    return ClaimResult("credited" if credited else "recorded", "Checked: see the list below.", yours)


def _already_recorded(network: str, txid: str, user_id: int) -> list[TronDeposit]:
    return list(
        TronDeposit.select()
        .where((TronDeposit.network == network) & (TronDeposit.txid == txid) & (TronDeposit.user == user_id))
        .order_by(TronDeposit.log_index)
    )
