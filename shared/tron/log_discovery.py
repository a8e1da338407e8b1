"""Candidate discovery with JSON-RPC `eth_getLogs` (the scanner's "logs" mode).

One filter per call: the USDT contract, topic0 = Transfer, any sender, and up to
`MAX_TOPICS_PER_CALL` of our deposit addresses as recipient topics (TRON.md §2.11), over at most
`MAX_RANGE_BLOCKS` blocks. A node that still refuses a range as too large gets each half of it,
down to a single block; a refusal then is a failed call. A block range counts as searched only
when every address chunk of it was answered.

What comes back is untrusted and only names transactions: each is verified afterwards on solid
data (`walletsolidity/gettransactioninfobyid`), and `logIndex` (an index within the block) is never
used. An entry that does not match the filter it answered is skipped with a log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from shared.tron.addresses import normalize_untrusted
from shared.tron.node import LogRangeTooLarge, NodeUnavailable, TronNode
from shared.tron.verification import TRANSFER_TOPIC

log = logging.getLogger(__name__)

MAX_RANGE_BLOCKS = 5_000
MAX_TOPICS_PER_CALL = 1_000
TXID_RE = re.compile(r"^[0-9a-f]{64}$")
HEX_QUANTITY_RE = re.compile(r"^0x[0-9a-f]{1,16}$")


@dataclass(frozen=True)
class LogQuery:
    """The fixed part of a filter: the token contract and one chunk of recipient topics."""

    contract_hex: str  # "41…"
    recipients: tuple[str, ...]  # 64-hex topics, without "0x"

    def to_filter(self, first: int, last: int) -> dict[str, Any]:
        """The `eth_getLogs` filter object for blocks `first`..`last`."""
        return {
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "address": "0x" + self.contract_hex[2:],
            "topics": ["0x" + TRANSFER_TOPIC, None, ["0x" + t for t in self.recipients]],
        }

    @cached_property
    def wanted(self) -> frozenset[str]:
        """The recipient topics as a set (an answer can hold many entries to check)."""
        return frozenset(self.recipients)


def recipient_topic(address_hex: str) -> str:
    """A "41…" address as the 32-byte topic of an indexed address (12 zero bytes in front)."""
    return "0" * 24 + address_hex[2:]


def block_ranges(first: int, last: int, size: int = MAX_RANGE_BLOCKS) -> Iterator[tuple[int, int]]:
    """`first`..`last` cut into consecutive ranges of at most `size` blocks."""
    for start in range(first, last + 1, size):
        yield start, min(last, start + size - 1)


def queries(contract_hex: str, address_hexes: list[str]) -> list[LogQuery]:
    """One query per chunk of at most `MAX_TOPICS_PER_CALL` recipients (sorted, so runs agree)."""
    topics = sorted(recipient_topic(a) for a in address_hexes)
    return [
        LogQuery(contract_hex, tuple(topics[i : i + MAX_TOPICS_PER_CALL]))
        for i in range(0, len(topics), MAX_TOPICS_PER_CALL)
    ]


def candidates(node: TronNode, chunks: list[LogQuery], first: int, last: int) -> dict[str, int]:
    """txid -> block of every Transfer to our addresses in `first`..`last`, over all chunks."""
    found: dict[str, int] = {}
    for query in chunks:
        for entry in fetch(node, query, first, last):
            candidate = read_entry(entry, query, first, last)
            if candidate is not None:
                found.setdefault(*candidate)
    return found


def fetch(node: TronNode, query: LogQuery, first: int, last: int) -> list[Any]:
    """The raw entries for `first`..`last`, halving the range while the node says it is too big."""
    try:
        return node.get_logs(query.to_filter(first, last))
    except LogRangeTooLarge as exc:
        if first == last:
            raise NodeUnavailable(f"eth_getLogs refused even block {first}: {exc}") from exc
    middle = (first + last) // 2
    return fetch(node, query, first, middle) + fetch(node, query, middle + 1, last)


def read_entry(entry: Any, query: LogQuery, first: int, last: int) -> tuple[str, int] | None:
    """(txid, block) of an entry that matches `query` and the range; None (logged) otherwise."""
    problem = _problem(entry, query)
    if not problem:
        block = _quantity(entry.get("blockNumber"))
        if block is not None and first <= block <= last:
            return entry["transactionHash"].lower().removeprefix("0x"), block
        problem = f"block {str(entry.get('blockNumber'))[:30]!r} is not in {first}..{last}"
    log.warning("tron eth_getLogs: skipping an entry: %s", problem)
    return None


def _problem(entry: Any, query: LogQuery) -> str:
    """Why an entry is not a Transfer of the queried token to a queried recipient ("" if it is)."""
    if not isinstance(entry, dict):
        return "not an object"
    if entry.get("removed") is True:
        return "removed by a reorganisation"
    txid = entry.get("transactionHash")
    if not isinstance(txid, str) or not TXID_RE.match(txid.lower().removeprefix("0x")):
        return f"bad transactionHash {str(txid)[:80]!r}"
    if normalize_untrusted(entry.get("address")) != query.contract_hex:
        return f"address {str(entry.get('address'))[:50]!r} is not the USDT contract"
    topics = entry.get("topics")
    if not isinstance(topics, list) or len(topics) < 3 or not all(isinstance(t, str) for t in topics):
        return "topics missing or fewer than three"
    topic0, recipient = (t.lower().removeprefix("0x") for t in (topics[0], topics[2]))
    if topic0 != TRANSFER_TOPIC or recipient not in query.wanted:
        return "not a Transfer to one of the queried addresses"
    return ""


def _quantity(value: Any) -> int | None:
    """A JSON-RPC quantity ("0x…" hex) as an int, or None."""
    if not isinstance(value, str) or not HEX_QUANTITY_RE.match(value.lower()):
        return None
    return int(value, 16)
