"""A fake TRON node: a real HTTP server on 127.0.0.1 that speaks the JSON of TRON.md §2.

It is stateful (blocks, a solid head, transactions, TRC-20 and TRX balances), answers the full
node API (`/wallet/*`, `/walletsolidity/*`, honouring `visible`), TronGrid v1's TRC-20 history
with fingerprint pagination, JSON-RPC `eth_getLogs` (with java-tron's -32602 above
`max_log_range` blocks or `max_log_topics` topics in a slot), and the sweep path
(`getsignweight`, `broadcasttransaction`, with signature checks). Tests drive it through the real
tronpy and httpx clients, and can reorganise unsolidified blocks, inject faults (status, body,
delay, dropped connection) and read every request it received. A path prefix `/trongrid/` is
accepted so that URLs containing "trongrid" can be tested.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tronpy.keys import to_base58check_address, to_hex_address

from tests.tron.chain_data import (  # noqa: F401 (re-exported for tests)
    GENESIS_TS,
    SWEEP_ENERGY_FEE_SUN,
    TRANSFER_TOPIC,
    USDT,
    USDT_HEX,
    block_id,
    rpc_log,
    signed_by,
    topic_of,
    transfer_log,
    txid_of,
    v1_item,
    view,
)


@dataclass
class Fault:
    """A scripted misbehaviour for requests whose path contains `path` (every path if "")."""

    path: str = ""
    status: int = 200
    body: str | None = None
    delay_s: float = 0.0
    drop: bool = False
    times: int | None = None  # None: until cleared
    skip: int = 0  # let this many matching requests through first


@dataclass(frozen=True)
class LogCall:
    """One `eth_getLogs` request as received, and whether it was answered with logs."""

    first: int
    last: int
    recipients: list[str]  # the recipient topics (third slot), 64 hex without "0x"
    ok: bool


class RpcError(Exception):
    """A JSON-RPC error the fake answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Tx:
    """One transaction: its info (canonical `visible: true` form) and the block it is in."""

    txid: str
    info: dict[str, Any]
    block: int
    raw: dict[str, Any] = field(default_factory=dict)


class FakeTronNode:
    """The node's state plus the HTTP server that serves it."""

    def __init__(self, page_size: int = 200) -> None:
        self.lock = threading.RLock()
        self.head = 100
        self.solid = 100
        self.txs: dict[str, Tx] = {}
        self.tokens: dict[tuple[str, str], int] = {}  # (contract hex, holder hex) -> amount
        self.accounts: dict[str, int] = {}  # activated accounts: hex -> sun
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.v1_extra: dict[str, list[dict[str, Any]]] = {}
        self.page_size = page_size
        self.auto_solidify = True
        self.broadcast_error: str | None = None
        self.decimals: dict[str, int] = {}  # contract hex -> decimals() (6 when absent)
        self.revert_next_call = False  # e.g. the balance was frozen between balanceOf and transfer
        self.max_log_range = 5_000  # java-tron's default jsonrpc.maxBlockRange
        self.max_log_topics = 1_000  # java-tron's default jsonrpc.maxSubTopics
        self.counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> FakeTronNode:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- chain helpers -----------------------------------------------------------------------

    def mine(self, blocks: int = 1) -> int:
        """Add empty blocks; returns the new head."""
        with self.lock:
            self.head += blocks
            return self.head

    def solidify(self, up_to: int | None = None) -> None:
        """Move the solid head up (to the head by default)."""
        with self.lock:
            self.solid = min(self.head, self.head if up_to is None else up_to)

    def reorg(self, from_block: int) -> None:
        """Drop every block from `from_block` on (they must not be solid) and their transactions."""
        with self.lock:
            assert from_block > self.solid, "solid blocks are irreversible"
            for txid in [t.txid for t in self.txs.values() if t.block >= from_block]:
                self._undo_balances(self.txs.pop(txid))
            self.head = from_block - 1

    def add_transfer(
        self, frm: str, to: str, value: int, contract: str = USDT, block: int | None = None, **info: Any
    ) -> str:
        """A successful TRC-20 transfer (one Transfer log); `info` overrides TransactionInfo fields."""
        return self.add_info(logs=[transfer_log(frm, to, value, contract)], block=block, **info)

    def add_info(
        self, logs: list[dict[str, Any]] | None = None, block: int | None = None, **info: Any
    ) -> str:
        """Put a transaction with these logs in `block` (a new block by default); returns its txid."""
        with self.lock:
            self.counter += 1
            number = self.head + 1 if block is None else block
            self.head = max(self.head, number)
            txid = info.pop("id", None) or hashlib.sha256(f"tx{self.counter}".encode()).hexdigest()
            record = {
                "id": txid,
                "fee": 6_428_500,
                "blockNumber": number,
                "blockTimeStamp": GENESIS_TS + number * 3000,
                "contractResult": ["0" * 64],
                "contract_address": USDT,
                "receipt": {
                    "energy_usage_total": 64285,
                    "energy_fee": 6_428_500,
                    "net_usage": 345,
                    "result": "SUCCESS",
                },
            }
            if logs is not None:
                record["log"] = logs
            record.update(info)
            self.txs[txid] = Tx(txid, record, number)
            self._apply_balances(self.txs[txid])
            return txid

    def add_raw_info(self, block: int, info: Any) -> None:
        """Put an arbitrary (possibly malformed) TransactionInfo in a block."""
        with self.lock:
            self.counter += 1
            key = f"raw{self.counter}"
            self.txs[key] = Tx(key, info, block)
            self.head = max(self.head, block)

    def add_v1_item(self, address: str, item: dict[str, Any]) -> None:
        """An extra TronGrid v1 history item for `address` (e.g. a fake token called USDT)."""
        self.v1_extra.setdefault(to_base58check_address(address), []).append(item)

    def set_token_balance(self, holder: str, amount: int, contract: str = USDT) -> None:
        self.tokens[(to_hex_address(contract), to_hex_address(holder))] = amount

    def token_balance(self, holder: str, contract: str = USDT) -> int:
        return self.tokens.get((to_hex_address(contract), to_hex_address(holder)), 0)

    def fail(self, **fault: Any) -> Fault:
        """Script a fault (see `Fault`); returns it so the test can remove it."""
        with self.lock:
            self.faults.append(Fault(**fault))
            return self.faults[-1]

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [r["path"] for r in self.requests]

    def log_calls(self) -> list[LogCall]:
        """Every `eth_getLogs` request so far, in order (block numbers as ints)."""
        calls = []
        for r in self.requests:
            if r["path"] != "jsonrpc" or not isinstance(r["body"], dict):
                continue
            params = (r["body"].get("params") or [{}])[0]
            topics = params.get("topics") or []
            recipients = topics[2] if len(topics) > 2 and isinstance(topics[2], list) else []
            calls.append(
                LogCall(
                    first=int(params["fromBlock"], 16),
                    last=int(params["toBlock"], 16),
                    recipients=[t.removeprefix("0x") for t in recipients],
                    ok=not r["fault"] and r.get("rpc_error") is None,
                )
            )
        return calls

    # --- balances ----------------------------------------------------------------------------

    def _transfers(self, tx: Tx) -> list[tuple[str, str, str, int]]:
        info = tx.info
        if not isinstance(info, dict) or info.get("result") == "FAILED":
            return []
        moves = []
        for log in info.get("log", []) or []:
            try:
                contract = to_hex_address(
                    log["address"] if log["address"][0] == "T" else "41" + log["address"]
                )
                moves.append(
                    (
                        contract,
                        "41" + log["topics"][1][24:],
                        "41" + log["topics"][2][24:],
                        int(log["data"], 16),
                    )
                )
            except (KeyError, IndexError, ValueError, TypeError):
                continue
        return moves

    def _apply_balances(self, tx: Tx, sign: int = 1) -> None:
        for contract, frm, to, value in self._transfers(tx):
            self.tokens[(contract, to)] = self.tokens.get((contract, to), 0) + sign * value
            if (contract, frm) in self.tokens:
                self.tokens[(contract, frm)] -= sign * value

    def _undo_balances(self, tx: Tx) -> None:
        self._apply_balances(tx, sign=-1)

    # --- HTTP --------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, float, bool]:
        """Answer one request: (status, body, delay before answering, drop the connection)."""
        parsed = urlparse(raw_path)
        path = parsed.path.removeprefix("/trongrid").strip("/")
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            payload = {}
        with self.lock:
            entry = {"method": method, "path": path, "headers": headers, "body": payload, "query": query}
            self.requests.append(entry)
            fault = self._fault_for(path)
            entry["fault"] = fault is not None
            if fault is not None:
                text = fault.body if fault.body is not None else json.dumps({"Error": "fault"})
                return fault.status, text.encode(), fault.delay_s, fault.drop
            if path == "jsonrpc":
                answer = self._jsonrpc(payload)
                entry["rpc_error"] = answer["error"]["code"] if "error" in answer else None
            else:
                answer = self._route(path, payload, query)
        return 200, json.dumps(answer).encode(), 0.0, False

    def _fault_for(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path in path and fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.path in path and (fault.times is None or fault.times > 0):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _route(self, path: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        if path.startswith("v1/accounts/") and path.endswith("/transactions/trc20"):
            return self._v1_trc20(path.split("/")[2], query)
        solid = path.startswith("walletsolidity/")
        name = path.split("/", 1)[-1]
        visible = bool(body.get("visible", False))
        if name == "getnodeinfo":
            return {
                "block": f"Num:{self.head},ID:{block_id(self.head)}",
                "solidityBlock": f"Num:{self.solid},ID:{block_id(self.solid)}",
                "configNodeInfo": {"codeVersion": "4.8.1"},
            }
        if name == "gettransactioninfobyblocknum":
            return self._infos_of_block(int(body.get("num", 0)), solid, visible)
        if name == "gettransactioninfobyid":
            tx = self._visible_tx(str(body.get("value", "")), solid)
            return view(tx.info, visible) if tx else {}
        if name == "gettransactionbyid":
            tx = self._visible_tx(str(body.get("value", "")), solid)
            return {"txID": tx.txid, "ret": [{"contractRet": "SUCCESS"}], "raw_data": tx.raw} if tx else {}
        if name == "triggerconstantcontract":
            return self._constant_call(body)
        if name == "getaccount":
            return self._account(body)
        if name == "getsignweight":
            return {
                "transaction": {
                    "transaction": {
                        "txID": txid_of(body.get("raw_data", {})),
                        "raw_data": body.get("raw_data"),
                    }
                }
            }
        if name == "broadcasttransaction":
            return self._broadcast(body)
        return {"Error": f"class org.tron.core.exception.BadItemException : unknown path {path}"}

    def _jsonrpc(self, body: Any) -> dict[str, Any]:
        """Answer one JSON-RPC request (only `eth_getLogs`; errors with HTTP 200, as java-tron)."""
        request_id = body.get("id") if isinstance(body, dict) else None
        try:
            if not isinstance(body, dict) or body.get("method") != "eth_getLogs":
                raise RpcError(-32601, "the method does not exist/is not available")
            params = body.get("params")
            if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
                raise RpcError(-32602, "invalid params")
            result = self._get_logs(params[0])
        except RpcError as exc:
            return {"jsonrpc": "2.0", "id": request_id, "error": {"code": exc.code, "message": str(exc)}}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def _get_logs(self, log_filter: dict[str, Any]) -> list[dict[str, Any]]:
        first = self._block_param(log_filter.get("fromBlock", "latest"))
        last = min(self.head, self._block_param(log_filter.get("toBlock", "latest")))
        if last < first:
            raise RpcError(-32602, "invalid block range params")
        if last - first + 1 > self.max_log_range:
            raise RpcError(-32602, f"exceed max block range: {self.max_log_range}")
        topics = log_filter.get("topics") or []
        if any(isinstance(slot, list) and len(slot) > self.max_log_topics for slot in topics):
            raise RpcError(-32602, f"exceed max topics: {self.max_log_topics}")
        addresses = _lower_set(log_filter.get("address"))
        return [
            entry
            for number in range(first, last + 1)
            for entry in self._rpc_logs_of_block(number)
            if _log_matches(entry, addresses, topics)
        ]

    def _block_param(self, value: Any) -> int:
        tags = {"latest": self.head, "finalized": self.solid, "earliest": 0}
        if value in tags:
            return tags[value]
        try:
            return int(value, 16)
        except (TypeError, ValueError):
            raise RpcError(-32602, f"invalid block number: {value!r}") from None

    def _rpc_logs_of_block(self, number: int) -> list[dict[str, Any]]:
        """Every log of a block as eth_getLogs shows it, `logIndex` counted within the block."""
        entries: list[dict[str, Any]] = []
        in_block = [t for t in self.txs.values() if t.block == number and isinstance(t.info, dict)]
        for tx_index, tx in enumerate(in_block):
            logs = tx.info.get("log")
            for log in logs if isinstance(logs, list) else []:
                entry = rpc_log(log, tx.txid, number, tx_index, len(entries))
                if entry is not None:
                    entries.append(entry)
        return entries

    def _visible_tx(self, txid: str, solid: bool) -> Tx | None:
        tx = self.txs.get(txid)
        if tx is None or (solid and tx.block > self.solid):
            return None
        return tx

    def _infos_of_block(self, number: int, solid: bool, visible: bool) -> Any:
        if number <= 0:
            return {}
        if number > (self.solid if solid else self.head):
            return []
        return [view(t.info, visible) for t in self.txs.values() if t.block == number]

    def _constant_call(self, body: dict[str, Any]) -> dict[str, Any]:
        contract = to_hex_address(body["contract_address"])
        selector = body.get("function_selector")
        if selector == "decimals()":
            result = format(self.decimals.get(contract, 6), "064x")
        elif selector == "balanceOf(address)":
            holder = "41" + body["parameter"][24:64]
            result = format(self.tokens.get((contract, holder), 0), "064x")
        else:
            return {"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": "unknown function"}}
        return {"result": {"result": True}, "energy_used": 935, "constant_result": [result]}

    def _account(self, body: dict[str, Any]) -> dict[str, Any]:
        address = to_hex_address(body["address"])
        if address not in self.accounts:
            return {}
        return {
            "address": to_base58check_address(address),
            "balance": self.accounts[address],
            "create_time": GENESIS_TS,
        }

    def _v1_trc20(self, address: str, query: dict[str, str]) -> dict[str, Any]:
        items = self._v1_items(address, query)
        offset = int(base64.b64decode(query["fingerprint"]).decode()) if "fingerprint" in query else 0
        size = min(int(query.get("limit", 20)), self.page_size)
        page = items[offset : offset + size]
        meta: dict[str, Any] = {"at": GENESIS_TS, "page_size": len(page)}
        if len(page) == size and page:
            meta["fingerprint"] = base64.b64encode(str(offset + size).encode()).decode()
        return {"data": page, "success": True, "meta": meta}

    def _v1_items(self, address: str, query: dict[str, str]) -> list[dict[str, Any]]:
        holder = to_hex_address(address)
        confirmed = query.get("only_confirmed") == "true"
        items = []
        for tx in self.txs.values():
            if confirmed and tx.block > self.solid:
                continue
            for contract, frm, to, value in self._transfers(tx):
                if holder in (frm, to):
                    items.append(v1_item(tx, contract, frm, to, value))
        items += self.v1_extra.get(address, [])
        min_ts = int(query.get("min_timestamp", 0))
        return sorted(
            (i for i in items if i["block_timestamp"] >= min_ts), key=lambda i: i["block_timestamp"]
        )

    def _broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("raw_data", {})
        txid = txid_of(raw)
        if self.broadcast_error and self.broadcast_error != "DUP_TRANSACTION_ERROR":
            code, self.broadcast_error = self.broadcast_error, None
            return {"result": False, "code": code, "message": code.encode().hex(), "txid": txid}
        if txid in self.txs:
            return {
                "result": False,
                "code": "DUP_TRANSACTION_ERROR",
                "message": "6475702074786964",
                "txid": txid,
            }
        contract = raw["contract"][0]
        owner = contract["parameter"]["value"]["owner_address"]
        if not signed_by(body, txid, owner):
            return {
                "result": False,
                "code": "SIGERROR",
                "message": "626164207369676e6174757265",
                "txid": txid,
            }
        if owner not in self.accounts:
            message = f"account [{owner}] does not exist".encode().hex()
            return {"result": False, "code": "CONTRACT_VALIDATE_ERROR", "message": message, "txid": txid}
        if contract["type"] == "TransferContract":
            self._execute_trx(txid, raw, contract["parameter"]["value"])
        else:
            self._execute_trigger(txid, raw, contract["parameter"]["value"])
        if self.auto_solidify:
            self.solidify()
        if self.broadcast_error == "DUP_TRANSACTION_ERROR":  # it got in via another node first
            self.broadcast_error = None
            return {
                "result": False,
                "code": "DUP_TRANSACTION_ERROR",
                "message": "6475702074786964",
                "txid": txid,
            }
        return {"result": True, "code": "SUCCESS", "txid": txid}

    def _execute_trx(self, txid: str, raw: dict[str, Any], value: dict[str, Any]) -> None:
        owner, to, amount = value["owner_address"], value["to_address"], int(value["amount"])
        self.accounts[owner] -= amount
        self.accounts[to] = self.accounts.get(to, 0) + amount
        self.add_info(id=txid, receipt={"net_usage": 283}, contract_address=None, contractResult=None, fee=0)
        self.txs[txid].raw = raw

    def _execute_trigger(self, txid: str, raw: dict[str, Any], value: dict[str, Any]) -> None:
        owner, contract, data = value["owner_address"], value["contract_address"], value["data"]
        to, amount = "41" + data[8 + 24 : 8 + 64], int(data[8 + 64 : 8 + 128], 16)
        revert, self.revert_next_call = self.revert_next_call, False
        if (
            revert
            or self.accounts[owner] < SWEEP_ENERGY_FEE_SUN
            or self.tokens.get((contract, owner), 0) < amount
        ):
            reason = "OUT_OF_ENERGY" if self.accounts[owner] < SWEEP_ENERGY_FEE_SUN else "REVERT"
            self.accounts[owner] = max(0, self.accounts[owner] - SWEEP_ENERGY_FEE_SUN)
            self.add_info(
                id=txid,
                result="FAILED",
                resMessage="6661696c6564",
                contractResult=[""],
                receipt={"energy_fee": SWEEP_ENERGY_FEE_SUN, "result": reason},
            )
        else:
            self.accounts[owner] -= SWEEP_ENERGY_FEE_SUN
            self.add_info(id=txid, logs=[transfer_log(owner, to, amount, contract)])
        self.txs[txid].raw = raw


def _lower_set(value: Any) -> set[str] | None:
    """A filter slot (one value, a list of values, or null for "any") as a set."""
    if value is None:
        return None
    return {v.lower() for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)}


def _log_matches(entry: dict[str, Any], addresses: set[str] | None, topics: list[Any]) -> bool:
    if addresses is not None and entry["address"] not in addresses:
        return False
    for position, slot in enumerate(topics):
        wanted = _lower_set(slot)
        if wanted is None:
            continue
        if position >= len(entry["topics"]) or entry["topics"][position].lower() not in wanted:
            return False
    return True


def _handler_for(node: FakeTronNode) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's naming)
            self._serve("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, delay, drop = node.handle(method, self.path, headers, body)
            if delay:
                time.sleep(delay)
            if drop:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler
