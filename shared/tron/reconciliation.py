"""On-chain USDT per deposit address against what we recorded: credited (and below-minimum)
deposits minus confirmed sweeps. A difference means a missed deposit, a blacklisted address whose
funds were destroyed, or a sweep we did not record; it is reported, never "fixed".
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from shared.tron.config import TronConfig
from shared.tron.models import TronAddress, TronDeposit, TronSweep
from shared.tron.node import TronNode


@dataclass(frozen=True)
class AddressBalance:
    """One address: what the chain says and what our books say."""

    address: str
    user_id: int | None
    on_chain: int
    received: int
    swept: int

    @property
    def expected(self) -> int:
        return self.received - self.swept

    @property
    def drift(self) -> int:
        return self.on_chain - self.expected


def book_balances(network: str) -> dict[int, tuple[int, int]]:
    """Address id -> (micro-USDT received in valid deposits, micro-USDT swept and confirmed)."""
    received = dict(
        TronDeposit.select(TronAddress.id, fn.SUM(TronDeposit.amount_micro))
        .join(TronAddress, on=(TronDeposit.to_hex == TronAddress.address_hex))
        .where((TronDeposit.network == network) & TronDeposit.status.in_(["credited", "below_minimum"]))
        .group_by(TronAddress.id)
        .tuples()
    )
    swept = dict(
        TronSweep.select(TronSweep.address, fn.SUM(TronSweep.amount))
        .where((TronSweep.kind == "usdt") & (TronSweep.status == "confirmed"))
        .group_by(TronSweep.address)
        .tuples()
    )
    return {a: (int(received.get(a) or 0), int(swept.get(a) or 0)) for a in set(received) | set(swept)}


def reconcile(config: TronConfig, node: TronNode) -> list[AddressBalance]:
    """Every assigned address with its on-chain balance (one `balanceOf` call each)."""
    books = book_balances(config.network)
    rows = []
    for address in TronAddress.select().where(TronAddress.user.is_null(False)).order_by(TronAddress.id):
        received, swept = books.get(address.id, (0, 0))
        on_chain = node.token_balance(config.usdt_contract, address.address)
        rows.append(AddressBalance(address.address, address.user_id, on_chain, received, swept))
    return rows
