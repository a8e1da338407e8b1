"""Reading untrusted TransactionInfo into findings about our deposit addresses.

Rules (TRON.md §4): only successful transactions (no `"result": "FAILED"`, `receipt.result ==
"SUCCESS"`), only logs whose address is the configured USDT contract (compared as hex, never by
name), exactly the Transfer topic with three topics, zero high bytes, 32 bytes of data, a value
that fits a BIGINT and is not zero. Position in `log` is the log index. Logs to addresses that
are not ours are ignored; anything odd about a log to one of ours becomes a finding with a reason
so that it is never silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInput
from shared.tron.addresses import normalize
from shared.tron.models import TronAddress

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TOPIC_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_BIGINT = 2**63 - 1

CREDITED, BELOW_MINIMUM, REJECTED, MANUAL_REVIEW = "credited", "below_minimum", "rejected", "manual_review"


@dataclass(frozen=True)
class Finding:
    """What one Transfer log to one of our addresses amounts to (before it is recorded)."""

    txid: str
    log_index: int
    address: TronAddress
    status: str
    amount_micro: int
    token_contract: str
    from_hex: str
    block_number: int
    block_ts_ms: int
    reason: str = ""


@dataclass(frozen=True)
class _Log:
    index: int
    contract: str
    to_hex: str
    from_hex: str
    value: int | None  # None: the data is not a 32-byte integer
    problem: str


def txid_of(info: Any) -> str | None:
    """The transaction id of a TransactionInfo, lower-case, or None if it has none we can use."""
    txid = info.get("id") if isinstance(info, dict) else None
    return txid.lower() if isinstance(txid, str) and TOPIC_RE.match(txid.lower()) else None


def failure_of(info: dict[str, Any]) -> str:
    """Why the transaction did not succeed, or "" if it did."""
    receipt = info.get("receipt")
    outcome = receipt.get("result") if isinstance(receipt, dict) else None
    if info.get("result", "SUCCESS") not in ("SUCCESS", "SUCESS"):
        return f"transaction failed ({outcome or info.get('result')})"
    if outcome != "SUCCESS":
        return f"transaction did not succeed (receipt {outcome or 'missing'})"
    return ""


def findings(
    info: dict[str, Any], known: Mapping[str, TronAddress], usdt_hex: str, min_micro: int, solid_head: int
) -> list[Finding]:
    """Every finding about our addresses in one TransactionInfo (none for other people's logs)."""
    txid = txid_of(info)
    logs = info.get("log", [])
    if txid is None or not isinstance(logs, list):
        return []
    block, block_ts = _int_or_none(info.get("blockNumber")), _int_or_none(info.get("blockTimeStamp"))
    failure = failure_of(info)
    tx_problem = (REJECTED, failure) if failure else None
    if block is None or block <= 0:
        tx_problem = tx_problem or (MANUAL_REVIEW, "transaction info has no valid block number")
    elif block > solid_head:
        return []  # not solidified yet: never decide on it
    result = []
    for index, raw in enumerate(logs):
        log = _read_log(index, raw)
        if log is None or log.to_hex not in known:
            continue
        status, reason = _judge(log, tx_problem, usdt_hex, min_micro)
        result.append(
            Finding(
                txid=txid,
                log_index=index,
                address=known[log.to_hex],
                status=status,
                amount_micro=log.value if log.value is not None and log.value <= MAX_BIGINT else 0,
                token_contract=log.contract,
                from_hex=log.from_hex,
                block_number=block or 0,
                block_ts_ms=block_ts or 0,
                reason=reason,
            )
        )
    return result


def _judge(log: _Log, tx_problem: tuple[str, str] | None, usdt_hex: str, min_micro: int) -> tuple[str, str]:
    if log.contract != usdt_hex:
        return REJECTED, f"token contract {log.contract} is not the configured USDT contract"
    if tx_problem:
        return tx_problem
    if log.problem:
        return MANUAL_REVIEW, log.problem
    assert log.value is not None
    if log.value > MAX_BIGINT:
        return MANUAL_REVIEW, f"amount {log.value} is too large to be real"
    if log.value == 0:
        return REJECTED, "zero amount"
    if log.value < min_micro:
        return BELOW_MINIMUM, f"below the minimum deposit of {min_micro} micro-USDT"
    return CREDITED, ""


def _read_log(index: int, raw: Any) -> _Log | None:
    """A Transfer log with a readable recipient, or None (not a Transfer, or no recipient)."""
    if not isinstance(raw, dict):
        return None
    topics = raw.get("topics")
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        return None
    topics = [t.lower().removeprefix("0x") for t in topics]
    if topics[0] != TRANSFER_TOPIC or len(topics) < 3 or not all(TOPIC_RE.match(t) for t in topics[1:3]):
        return None
    try:
        contract = normalize(str(raw.get("address", "")))
        to_hex, from_hex = normalize(topics[2][24:]), normalize(topics[1][24:])
    except InvalidInput:
        return None
    return _Log(index, contract, to_hex, from_hex, *_value_and_problem(topics, raw.get("data")))


def _value_and_problem(topics: list[str], data: Any) -> tuple[int | None, str]:
    if len(topics) != 3:
        return None, f"Transfer log with {len(topics)} topics"
    if topics[1][:24] != "0" * 24 or topics[2][:24] != "0" * 24:
        return None, "address topic with non-zero high bytes"
    if not isinstance(data, str) or not TOPIC_RE.match(data.lower().removeprefix("0x")):
        return None, "Transfer data is not exactly 32 bytes"
    return int(data.lower().removeprefix("0x"), 16), ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
