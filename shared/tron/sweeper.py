"""Moving USDT from deposit addresses to the operator's treasury (`tollgate tron sweep`).

Sweeps never touch customer balances. Safety rules (TRON.md §4.12): sweep the observed
`balanceOf`, only above the threshold; one sweep in flight per address; the txid is recorded
before broadcasting; DUP_TRANSACTION_ERROR means "already sent"; success is judged by the solid
receipt and the Transfer log, never by `transfer()`'s return value (USDT on TRON returns false).
An address without enough TRX for the fee first gets a top-up from the fee wallet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tronpy.contract import Contract
from tronpy.keys import PrivateKey
from tronpy.tron import Transaction

from shared.errors import InvalidInput
from shared.models import utcnow
from shared.tron.addresses import normalize
from shared.tron.config import TronConfig
from shared.tron.models import TronAddress, TronSweep
from shared.tron.node import NodeUnavailable, TronNode
from shared.tron.signing import Signer
from shared.tron.verification import failure_of

log = logging.getLogger(__name__)

TRC20_ABI = [
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
IN_FLIGHT = ("signed", "broadcast")


@dataclass(frozen=True)
class SweepOutcome:
    """What happened at one address: swept, skipped, unconfirmed or failed."""

    address: str
    status: str
    amount: int = 0
    txid: str = ""
    message: str = ""


class Sweeper:
    """One sweep run; `sleep` and the polling budget are the test seams."""

    def __init__(
        self,
        config: TronConfig,
        node: TronNode,
        signer: Signer,
        polls: int = 60,
        poll_interval_s: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not config.treasury:
            raise InvalidInput(
                "treasury", "set the treasury address first (tollgate tron config set treasury T…)"
            )
        if not config.xpub or signer.xpub != config.xpub:
            raise InvalidInput("mnemonic", "this mnemonic does not belong to the configured xpub")
        self.config, self.node, self.signer = config, node, signer
        self.polls, self.poll_interval_s, self.sleep = polls, poll_interval_s, sleep

    def run(self) -> list[SweepOutcome]:
        """Sweep every derived deposit address that holds at least the threshold."""
        derived = TronAddress.select().where(TronAddress.derivation_index.is_null(False))
        return [self.sweep(address) for address in derived.order_by(TronAddress.derivation_index)]

    def sweep(self, address: TronAddress) -> SweepOutcome:
        """Sweep one address (after settling any sweep still in flight there)."""
        pending = self._settle_in_flight(address)
        if pending is not None:
            return pending
        balance = self.node.token_balance(self.config.usdt_contract, address.address)
        if balance < max(1, self.config.sweep_threshold_micro):
            return SweepOutcome(address.address, "skipped", balance, message="below the sweep threshold")
        key = self.signer.key(address.derivation_index)
        if key.public_key.to_base58check_address() != address.address:
            return SweepOutcome(
                address.address, "failed", message="the mnemonic does not derive this address"
            )
        topped = self._ensure_fee(address)
        if topped is not None:
            return topped
        contract = Contract(addr=self.config.usdt_contract, abi=TRC20_ABI, client=self.node.tron)
        with_fee = contract.functions.transfer(self.config.treasury, balance).with_owner(address.address)
        txn = self._build(lambda: with_fee.fee_limit(self.config.fee_limit_sun).build(), key)
        return self._send(address, "usdt", txn, balance, self.config.treasury)

    def _ensure_fee(self, address: TronAddress) -> SweepOutcome | None:
        """Top the address up with TRX if it cannot pay the sweep; an outcome only on failure."""
        trx = self.node.trx_balance(address.address)
        if trx is not None and trx >= self.config.topup_sun:
            return None
        fee_key = self.signer.fee_key()
        payer = fee_key.public_key.to_base58check_address()
        builder = self.node.tron.trx.transfer(payer, address.address, self.config.topup_sun)
        outcome = self._send(
            address, "trx_topup", self._build(builder.build, fee_key), self.config.topup_sun, address.address
        )
        if outcome.status != "swept":
            return SweepOutcome(address.address, "failed", message=f"TRX top-up failed: {outcome.message}")
        return None

    def _build(self, build: Callable[[], Transaction], key: PrivateKey) -> Transaction:
        try:
            return build().sign(key)
        except NodeUnavailable:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise NodeUnavailable(f"building the transaction failed: {exc}") from exc

    def _send(self, address: TronAddress, kind: str, txn: Transaction, amount: int, to: str) -> SweepOutcome:
        """Record, broadcast and confirm one transaction."""
        sweep = TronSweep.create(address=address, kind=kind, to_address=to, amount=amount, txid=txn.txid)
        answer = self.node.post("wallet/broadcasttransaction", txn.to_json())
        code = answer.get("code", "SUCCESS") if isinstance(answer, dict) else "BAD_ANSWER"
        if (
            not (isinstance(answer, dict) and answer.get("result") is True)
            and code != "DUP_TRANSACTION_ERROR"
        ):
            message = f"{code}: {_decode(answer.get('message', '') if isinstance(answer, dict) else '')}"
            _update(sweep, "failed", message)
            return SweepOutcome(address.address, "failed", amount, txn.txid, message)
        _update(sweep, "broadcast")
        return self._confirm(sweep)

    def _confirm(self, sweep: TronSweep) -> SweepOutcome:
        address = sweep.address.address
        for attempt in range(self.polls):
            info = self.node.transaction_info(sweep.txid, solid=True)
            if info is not None:
                problem = _judge(info, sweep, self.config.usdt_hex)
                _update(sweep, "failed" if problem else "confirmed", problem, fee=info.get("fee", 0))
                status = "failed" if problem else "swept"
                return SweepOutcome(address, status, sweep.amount, sweep.txid, problem)
            if attempt + 1 < self.polls:
                self.sleep(self.poll_interval_s)
        return SweepOutcome(
            address, "unconfirmed", sweep.amount, sweep.txid, "not solidified yet; run again later"
        )

    def _settle_in_flight(self, address: TronAddress) -> SweepOutcome | None:
        """Resolve an earlier sweep still in flight; an outcome if it is still unresolved."""
        for sweep in TronSweep.select().where(
            (TronSweep.address == address) & TronSweep.status.in_(IN_FLIGHT)
        ):
            outcome = self._confirm(sweep)
            if outcome.status == "unconfirmed":
                return outcome
        return None


def _judge(info: dict[str, Any], sweep: TronSweep, usdt_hex: str) -> str:
    """ "" if the receipt shows the transfer we sent, else why not."""
    failure = failure_of(info) if sweep.kind == "usdt" else _trx_failure(info)
    if failure or sweep.kind != "usdt":
        return failure
    sender, receiver = sweep.address.address_hex, normalize(sweep.to_address)
    for log_entry in info.get("log", []) if isinstance(info.get("log"), list) else []:
        try:
            topics = log_entry["topics"]
            if (
                normalize(str(log_entry["address"])) == usdt_hex
                and normalize(topics[1][24:]) == sender
                and normalize(topics[2][24:]) == receiver
                and int(log_entry["data"], 16) == sweep.amount
            ):
                return ""
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return "no matching Transfer log in the receipt"


def _trx_failure(info: dict[str, Any]) -> str:
    return f"transaction failed ({info.get('result')})" if info.get("result") == "FAILED" else ""


def _update(sweep: TronSweep, status: str, error: str = "", fee: object = 0) -> None:
    changes = {"status": status, "error": error, "updated_at": utcnow()}
    if isinstance(fee, int):
        changes["fee_sun"] = fee
    TronSweep.update(changes).where(TronSweep.id == sweep.id).execute()
    sweep.status = status


def _decode(message: object) -> str:
    try:
        return bytes.fromhex(str(message)).decode("utf-8", "replace")
    except ValueError:
        return str(message)
