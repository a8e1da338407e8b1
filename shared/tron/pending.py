"""Transfers seen in blocks that are not solid yet: display only ("seen, 7/19 confirmations").

Each scanner run replaces the whole table with what the node shows now above the solid head, so
a transfer that a reorg removed or changed disappears or changes here; credits never come from
this table.
"""

from __future__ import annotations

import datetime as dt

from shared.db import write_transaction
from shared.tron.config import TronConfig
from shared.tron.models import TronAddress, TronPending
from shared.tron.node import Heads, TronNode
from shared.tron.verification import CREDITED, findings

MAX_PENDING_BLOCKS = 40
SOLID_CONFIRMATIONS = 19


def refresh_pending(
    node: TronNode, config: TronConfig, heads: Heads, hot: dict[str, TronAddress], now: dt.datetime
) -> int:
    """Rebuild the pending list from unsolidified blocks, only for hot addresses; returns its size."""
    rows = []
    if hot:
        first = max(heads.solid + 1, heads.head - MAX_PENDING_BLOCKS + 1)
        for number in range(first, heads.head + 1):
            for info in node.block_infos(number, solid=False):
                if not isinstance(info, dict):
                    continue
                for f in findings(info, hot, config.usdt_hex, 1, heads.head):
                    if f.status == CREDITED and f.block_number > heads.solid:
                        rows.append(
                            _row(f.txid, f.log_index, f.address.user_id, f.amount_micro, f.block_number, now)
                        )
    with write_transaction():
        TronPending.delete().execute()
        if rows:
            TronPending.insert_many(_unique(rows)).execute()
    return len(rows)


def _row(txid: str, index: int, user_id: int, amount: int, block: int, now: dt.datetime) -> dict:
    return {
        "txid": txid,
        "log_index": index,
        "user": user_id,
        "amount_micro": amount,
        "block_number": block,
        "seen_at": now,
    }


def _unique(rows: list[dict]) -> list[dict]:
    return list({(r["txid"], r["log_index"]): r for r in rows}.values())


def confirmations(block_number: int, head: int) -> int:
    """How many blocks (including its own) a pending transfer has behind it."""
    return max(0, head - block_number + 1)
