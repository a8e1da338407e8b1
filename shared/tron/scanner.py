"""The deposit scanner: the worker runs `Scanner.run_once` about every 30 seconds.

Discovery modes (`config.discovery`):
- "blocks": every solid block after the cursor, via `walletsolidity/gettransactioninfobyblocknum`
  (solid data, so it is also the verification); the cursor moves one fully processed block at a
  time and never past the solid head, and never after a failed node call;
- "trongrid": TronGrid v1 history of "hot" addresses (Deposit tab opened or "I've paid" pressed
  lately), each candidate then verified with `walletsolidity/gettransactioninfobyid`;
- "logs": JSON-RPC `eth_getLogs` over the solid blocks after the cursor, for every assigned
  address (USDT Transfer logs, 1,000 recipients and at most 5,000 blocks a call, see
  `log_discovery`), each candidate then verified with `walletsolidity/gettransactioninfobyid`;
  the cursor (the same one as "blocks" mode's, so the two can be swapped) moves one range at a
  time, only once every address chunk of the range was answered and every candidate verified.

"blocks" and "logs" also refresh the display-only list of pending (not yet solid) transfers to
hot addresses. A failed node call ends the run cleanly: the error and a back-off are stored,
nothing else moves.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.models import utcnow
from shared.settings import Settings
from shared.tron import config as tron_config
from shared.tron import lease, log_discovery
from shared.tron.addresses import normalize_untrusted
from shared.tron.config import TronConfig
from shared.tron.crediting import LedgerRefTaken, record
from shared.tron.models import TronAddress, TronDeposit
from shared.tron.node import Heads, NodeUnavailable, TronNode
from shared.tron.pending import refresh_pending
from shared.tron.state import ScannerState, load_state, save_state
from shared.tron.verification import Finding, findings

log = logging.getLogger(__name__)

LEASE_NAME = "tron_scanner"
MAX_BLOCKS_PER_RUN = 200
USDT_DECIMALS = 6
TRONGRID_OVERLAP_MS = 10 * 60 * 1000
# Logs mode: 50,000 blocks (about 42 hours) a run at most; a longer catch-up spreads over runs,
# each range saved as it is done.
MAX_LOG_RANGES_PER_RUN = 10

NodeFactory = Callable[[TronConfig], TronNode]


@dataclass
class ScanReport:
    """What one run did (for logs, the CLI and tests)."""

    skipped: str = ""
    error: str = ""
    blocks: int = 0
    recorded: list[TronDeposit] = field(default_factory=list)


def known_addresses(only_hot_at: dt.datetime | None = None) -> dict[str, TronAddress]:
    """Assigned deposit addresses by hex (optionally only those hot at a moment)."""
    query = TronAddress.select().where(TronAddress.user.is_null(False))
    if only_hot_at is not None:
        query = query.where(TronAddress.hot_until > only_hot_at)
    return {a.address_hex: a for a in query}


def record_all(found: list[Finding], config: TronConfig, found_by: str) -> list[TronDeposit]:
    """Record each finding once; a ledger ref clash is logged and left for an operator."""
    recorded = []
    for finding in found:
        try:
            deposit = record(finding, config, found_by)
        except LedgerRefTaken as exc:
            log.error("tron deposit %s:%s: ledger ref %s already used", finding.txid, finding.log_index, exc)
            continue
        if deposit is not None:
            recorded.append(deposit)
    return recorded


def default_node(config: TronConfig, timeout_s: float = 10.0) -> TronNode:
    """A node client for the configured URL and API key."""
    return TronNode(config.node_url, config.api_key, timeout_s=timeout_s)


class Scanner:
    """One scanner identity (a lease holder); `clock` and `node_factory` are the test seams."""

    def __init__(
        self,
        settings: Settings,
        node_factory: NodeFactory | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        lease_ttl_s: float = 120.0,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.node_factory = node_factory or (lambda c: default_node(c, settings.tron_node_timeout_s))
        self.clock = clock
        self.lease_ttl_s = lease_ttl_s
        # One identity per process, so that each run of the job renews the same lease.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"

    def run_once(self) -> ScanReport:
        """Scan once if configured, not backing off and holding the lease."""
        config = tron_config.load(self.settings.secret_key)
        if not config.ready:
            return ScanReport(skipped="TRON deposits are not configured")
        now = self.clock()
        state = load_state(config.network)
        if state.backing_off(now):
            return ScanReport(skipped=f"backing off until {state.backoff_until}")
        if not lease.acquire(LEASE_NAME, self.holder, self.lease_ttl_s, now):
            return ScanReport(skipped="another scanner holds the lease")
        node = self.node_factory(config)
        report = ScanReport()
        try:
            self._scan(config, node, state, report, now)
            state.succeeded(now)
        except NodeUnavailable as exc:
            log.warning("tron scanner: %s", exc)
            state.failed(now, str(exc), exc.rate_limited)
            report.error = str(exc)
        finally:
            node.close()
            save_state(config.network, state)
        return report

    def _scan(
        self, config: TronConfig, node: TronNode, state: ScannerState, report: ScanReport, now: dt.datetime
    ) -> None:
        heads = node.heads()
        if heads.solid < state.solid_seen:
            raise NodeUnavailable(f"the node's solid height went down ({state.solid_seen} -> {heads.solid})")
        state.head_seen, state.solid_seen = heads.head, heads.solid
        _check_contract(config, node, state)
        if config.discovery == "trongrid":
            report.recorded += scan_hot_addresses(config, node, heads, now)
            return
        if config.discovery == "logs":
            self._scan_logs(config, node, state, report, heads)
        else:
            self._scan_blocks(config, node, state, report, heads)
        refresh_pending(node, config, heads, known_addresses(only_hot_at=now), now)

    def _scan_blocks(
        self,
        config: TronConfig,
        node: TronNode,
        state: ScannerState,
        report: ScanReport,
        heads: Heads,
    ) -> None:
        cursor = _start_cursor(config, state, heads)
        known = known_addresses()
        last = min(heads.solid, cursor + MAX_BLOCKS_PER_RUN)
        for number in range(cursor + 1, last + 1):
            found = [
                f
                for info in node.block_infos(number, solid=True)
                for f in _safe_findings(info, known, config, heads)
            ]
            report.recorded += record_all(found, config, "scan")
            if not self._advance(config, state, report, number, number):
                return

    def _scan_logs(
        self,
        config: TronConfig,
        node: TronNode,
        state: ScannerState,
        report: ScanReport,
        heads: Heads,
    ) -> None:
        cursor = _start_cursor(config, state, heads)
        known = known_addresses()
        chunks = log_discovery.queries(config.usdt_hex, list(known))
        last = min(heads.solid, cursor + MAX_LOG_RANGES_PER_RUN * log_discovery.MAX_RANGE_BLOCKS)
        for first, end in log_discovery.block_ranges(cursor + 1, last):
            found = log_discovery.candidates(node, chunks, first, end)
            report.recorded += verify_candidates(found, node, known, config, heads)
            if not self._advance(config, state, report, first, end):
                return

    def _advance(
        self, config: TronConfig, state: ScannerState, report: ScanReport, first: int, last: int
    ) -> bool:
        """Store the cursor after blocks `first`..`last` were fully processed; False if the lease is lost."""
        report.blocks += last - first + 1
        state.cursor = last
        save_state(config.network, state)
        if not lease.acquire(LEASE_NAME, self.holder, self.lease_ttl_s, self.clock()):
            report.skipped = "lost the lease to another scanner"
            return False
        return True


def _start_cursor(config: TronConfig, state: ScannerState, heads: Heads) -> int:
    """The cursor, set on the first run to just before the start block (or to the solid head)."""
    if state.cursor is None:
        state.cursor = config.start_block - 1 if config.start_block else heads.solid
    return state.cursor


def _check_contract(config: TronConfig, node: TronNode, state: ScannerState) -> None:
    """Refuse to scan a contract that is not a 6-decimal token (checked once per contract)."""
    if state.extra.get("contract_checked") == config.usdt_hex:
        return
    decimals = node.token_decimals(config.usdt_contract)
    if decimals != USDT_DECIMALS:
        raise NodeUnavailable(
            f"contract {config.usdt_contract} has {decimals} decimals, USDT has 6: not scanning"
        )
    state.extra["contract_checked"] = config.usdt_hex


def verify_candidates(
    found: dict[str, int], node: TronNode, known: dict[str, TronAddress], config: TronConfig, heads: Heads
) -> list[TronDeposit]:
    """Logs mode: record what each candidate's solid TransactionInfo says (the only credit path)."""
    recorded: list[TronDeposit] = []
    for txid, block in sorted(found.items(), key=lambda item: (item[1], item[0])):
        info = node.transaction_info(txid, solid=True)
        if info is None:
            # eth_getLogs saw it in a solid block: the node's two views disagree, so this range
            # is not done yet; a later run looks again.
            raise NodeUnavailable(f"eth_getLogs listed {txid} in block {block}, but it has no solid info")
        recorded += record_all(_safe_findings(info, known, config, heads), config, "logs")
    return recorded


def _safe_findings(
    info: Any, known: dict[str, TronAddress], config: TronConfig, heads: Heads
) -> list[Finding]:
    if not isinstance(info, dict):
        log.warning("tron scanner: skipping a transaction info that is not an object")
        return []
    return findings(info, known, config.usdt_hex, config.min_deposit_micro, heads.solid)


def scan_hot_addresses(
    config: TronConfig, node: TronNode, heads: Heads, now: dt.datetime
) -> list[TronDeposit]:
    """TronGrid mode: page through each hot address's history and verify every candidate."""
    recorded: list[TronDeposit] = []
    for address in known_addresses(only_hot_at=now).values():
        since = max(0, (address.last_seen_ts or 0) - TRONGRID_OVERLAP_MS)
        items = node.trc20_history(address.address, config.usdt_contract, since)
        newest, unresolved = address.last_seen_ts or 0, False
        for txid, ts in _candidates(items, address, config.usdt_hex).items():
            info = node.transaction_info(txid, solid=True)
            if info is None:
                unresolved = True  # listed as confirmed, not solid on this node yet: look again
                continue
            found = _safe_findings(info, {address.address_hex: address}, config, heads)
            recorded += record_all(found, config, "trongrid")
            newest = max(newest, ts)
        if not unresolved and newest > (address.last_seen_ts or 0):
            TronAddress.update(last_seen_ts=newest).where(TronAddress.id == address.id).execute()
    return recorded


def _candidates(items: list[Any], address: TronAddress, usdt_hex: str) -> dict[str, int]:
    """Transfer items to `address` of the configured contract (by address, never by symbol)."""
    found: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "Transfer":
            continue
        token = item.get("token_info") if isinstance(item.get("token_info"), dict) else {}
        same_token = normalize_untrusted(token.get("address")) == usdt_hex
        to_us = normalize_untrusted(item.get("to")) == address.address_hex
        txid, ts = item.get("transaction_id"), item.get("block_timestamp")
        if same_token and to_us and isinstance(txid, str) and len(txid) == 64 and isinstance(ts, int):
            found[txid.lower()] = ts
    return found
