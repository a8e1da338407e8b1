"""A finding becomes a deposit row, and a credited one its ledger entry, in one transaction.

The row is unique on (network, txid, log_index) and the ledger entry on its ref
"tron:<network>:<txid>:<log_index>", so re-scans, overlapping jobs and "I've paid" can all call
`record` for the same log: the first one decides, the others change nothing.
"""

from __future__ import annotations

import logging

from peewee import IntegrityError

from shared import notices
from shared.billing import post_entry
from shared.db import write_transaction
from shared.tron.config import TronConfig
from shared.tron.models import TronDeposit
from shared.tron.rate import format_usdt
from shared.tron.verification import CREDITED, Finding

log = logging.getLogger(__name__)


class LedgerRefTaken(Exception):
    """A ledger entry already exists for a deposit that had no row: needs an operator's look."""


def ledger_ref(network: str, txid: str, log_index: int) -> str:
    """The ledger ref of a deposit (unique, so a deposit is credited at most once)."""
    return f"tron:{network}:{txid}:{log_index}"


def record(finding: Finding, config: TronConfig, found_by: str = "scan") -> TronDeposit | None:
    """Insert the deposit (and credit it when due); None if this log was already recorded."""
    row = _row(finding, config, found_by)
    try:
        with write_transaction():
            if _exists(config.network, finding):
                return None
            deposit = TronDeposit.create(**row)
            if finding.status == CREDITED:
                _credit(deposit)
    except IntegrityError:
        return None  # a concurrent writer inserted the same log first
    log.info(
        "tron deposit %s:%s %s for user %s", finding.txid, finding.log_index, finding.status, deposit.user_id
    )
    return deposit


def _exists(network: str, finding: Finding) -> bool:
    return (
        TronDeposit.select()
        .where(
            (TronDeposit.network == network)
            & (TronDeposit.txid == finding.txid)
            & (TronDeposit.log_index == finding.log_index)
        )
        .exists()
    )


def _row(finding: Finding, config: TronConfig, found_by: str) -> dict:
    row = {
        "network": config.network,
        "txid": finding.txid,
        "log_index": finding.log_index,
        "block_number": finding.block_number,
        "block_ts_ms": finding.block_ts_ms,
        "token_contract": finding.token_contract,
        "from_hex": finding.from_hex,
        "to_hex": finding.address.address_hex,
        "user": finding.address.user_id,
        "amount_micro": finding.amount_micro,
        "status": finding.status,
        "reason": finding.reason,
        "found_by": found_by,
    }
    if finding.status == CREDITED:
        rate = config.current_rate
        row.update(credited_units=rate.units(finding.amount_micro), rate=rate.text, rate_source=rate.source)
    return row


def _credit(deposit: TronDeposit) -> None:
    reason = f"{format_usdt(deposit.amount_micro)} USDT at {deposit.rate} USD/USDT ({deposit.rate_source})"
    ref = ledger_ref(deposit.network, deposit.txid, deposit.log_index)
    if not post_entry(deposit.user_id, deposit.credited_units, "deposit", ref=ref, reason=reason):
        raise LedgerRefTaken(ref)
    notices.deposit_credited(deposit.user_id, deposit.credited_units)
