"""What the fake TRON node serves, as data: addresses as topics, Transfer logs, block ids, the
`visible: false` view of a TransactionInfo, TronGrid v1 items, JSON-RPC log entries, transaction
ids and signatures.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tronpy.keys import Signature, to_base58check_address, to_hex_address

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
SWEEP_ENERGY_FEE_SUN = 6_428_500
GENESIS_TS = 1_700_000_000_000


def topic_of(address: str) -> str:
    """An address as a 32-byte log topic (12 zero bytes + the 20-byte address)."""
    return "0" * 24 + to_hex_address(address)[2:]


def transfer_log(frm: str, to: str, value: int, contract: str = USDT) -> dict[str, Any]:
    """A Transfer log as a node shows it with `visible: true` (base58 contract address)."""
    return {
        "address": to_base58check_address(contract),
        "topics": [TRANSFER_TOPIC, topic_of(frm), topic_of(to)],
        "data": format(value, "064x"),
    }


def block_id(number: int) -> str:
    """A block id that starts with the block number, as TRON's do."""
    return format(number, "016x") + hashlib.sha256(str(number).encode()).hexdigest()[:48]


def view(info: Any, visible: bool) -> Any:
    """TransactionInfo as the node shows it: `visible: false` turns addresses into hex."""
    if visible or not isinstance(info, dict):
        return info
    shown = json.loads(json.dumps(info))
    if isinstance(shown.get("contract_address"), str) and shown["contract_address"].startswith("T"):
        shown["contract_address"] = to_hex_address(shown["contract_address"])
    for log in shown.get("log", []) if isinstance(shown.get("log"), list) else []:
        if isinstance(log, dict) and isinstance(log.get("address"), str) and log["address"].startswith("T"):
            log["address"] = to_hex_address(log["address"])[2:]
    return shown


def v1_item(tx: Any, contract: str, frm: str, to: str, value: int) -> dict[str, Any]:
    return {
        "transaction_id": tx.txid,
        "token_info": {
            "symbol": "USDT",
            "address": to_base58check_address(contract),
            "decimals": 6,
            "name": "Tether USD",
        },
        "block_timestamp": GENESIS_TS + tx.block * 3000,
        "from": to_base58check_address(frm),
        "to": to_base58check_address(to),
        "type": "Transfer",
        "value": str(value),
    }


def rpc_log(log: Any, txid: str, block: int, tx_index: int, log_index: int) -> dict[str, Any] | None:
    """A TransactionInfo log as `eth_getLogs` shows it (0x hex everywhere); None if unreadable."""
    try:
        address = to_hex_address(log["address"]) if log["address"].startswith("T") else "41" + log["address"]
        topics = ["0x" + t for t in log["topics"]]
        data = "0x" + log["data"]
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    return {
        "address": "0x" + address[2:],
        "blockHash": "0x" + block_id(block),
        "blockNumber": hex(block),
        "blockTimestamp": hex((GENESIS_TS + block * 3000) // 1000),
        "transactionHash": "0x" + txid,
        "transactionIndex": hex(tx_index),
        "logIndex": hex(log_index),
        "removed": False,
        "topics": topics,
        "data": data,
    }


def txid_of(raw: Any) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def signed_by(body: dict[str, Any], txid: str, owner_hex: str) -> bool:
    signatures = body.get("signature") or []
    if body.get("txID") != txid or not signatures:
        return False
    try:
        signer = Signature(bytes.fromhex(signatures[0])).recover_public_key_from_msg_hash(bytes.fromhex(txid))
    except ValueError:
        return False
    return signer.to_hex_address() == owner_hex
