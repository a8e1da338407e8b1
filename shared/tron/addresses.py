"""TRON address forms and watch-only deposit addresses.

An address is kept in two forms: base58check `T…` (what users see) and 21-byte hex `41…` (what we
compare). Deposit addresses come from an operator's account-level xpub
(`m/44'/195'/0'`, children `0/{index}`) or from an imported list; no private key is ever needed.
"""

from __future__ import annotations

import re
from typing import Any

from bip_utils import Base58ChecksumError, Bip32KeyError, Bip44, Bip44Changes, Bip44Coins, Bip44Levels
from peewee import IntegrityError, fn
from tronpy.exceptions import BadAddress
from tronpy.keys import to_base58check_address, to_hex_address

from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import utcnow
from shared.tron.models import TronAddress

HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
FEE_WALLET_CHAIN = 1  # m/44'/195'/0'/1/0 pays the sweeper's fees; deposits use chain 0


class NoDepositAddress(LookupError):
    """Neither an xpub nor an unassigned imported address is available."""


def normalize(address: str) -> str:
    """Any address form (T…, 41+40 hex, 0x+40 hex, 40 hex of a log) as lower-case "41…" hex."""
    text = (address or "").strip()
    if text.lower().startswith("0x"):
        text = text[2:]
    if HEX40.match(text):
        text = "41" + text
    try:
        hex_form = to_hex_address(text) if text.startswith("T") else text.lower()
        if not re.fullmatch(r"41[0-9a-f]{40}", hex_form):
            raise BadAddress(address)
        to_base58check_address(hex_form)
    except (BadAddress, ValueError) as exc:
        raise InvalidInput("address", f"not a TRON address: {address!r}") from exc
    return hex_form


def normalize_untrusted(value: Any) -> str | None:
    """`normalize` for a value from a node's answer: None when it is not an address at all."""
    if not isinstance(value, str):
        return None
    try:
        return normalize(value)
    except InvalidInput:
        return None


def to_base58(address: str) -> str:
    """Any address form as base58check `T…`."""
    return to_base58check_address(normalize(address))


def _account(xpub: str) -> Bip44:
    try:
        account = Bip44.FromExtendedKey(xpub.strip(), Bip44Coins.TRON)
    except (ValueError, TypeError, Base58ChecksumError, Bip32KeyError) as exc:
        raise InvalidInput("xpub", "not an extended public key") from exc
    if not account.IsPublicOnly():
        raise InvalidInput("xpub", "this is a private key: give the account's xpub (watch-only) instead")
    if not account.IsLevel(Bip44Levels.ACCOUNT):
        raise InvalidInput("xpub", "give the account-level key of m/44'/195'/0' (depth 3)")
    return account


def validate_xpub(xpub: str) -> str:
    """The xpub, stripped, if it is an account-level public key; InvalidInput otherwise."""
    _account(xpub)
    return xpub.strip()


def derive(xpub: str, index: int, chain: int = 0) -> str:
    """The base58 address of child `chain/index` under an account-level xpub."""
    change = Bip44Changes.CHAIN_INT if chain == FEE_WALLET_CHAIN else Bip44Changes.CHAIN_EXT
    return _account(xpub).Change(change).AddressIndex(index).PublicKey().ToAddress()


def address_of(user_id: int) -> TronAddress | None:
    """The user's deposit address, if one was assigned."""
    return TronAddress.get_or_none(TronAddress.user == user_id)


def assign(user_id: int, xpub: str) -> TronAddress:
    """The user's deposit address, deriving the next one (or taking an imported one) on first use."""
    for _attempt in range(5):
        existing = address_of(user_id)
        if existing is not None:
            return existing
        try:
            with write_transaction():
                return _derive_next(user_id, xpub) if xpub else _take_imported(user_id)
        except IntegrityError:
            continue  # another process assigned at the same moment: look again
    raise NoDepositAddress("could not assign a deposit address; try again")


def _derive_next(user_id: int, xpub: str) -> TronAddress:
    last = TronAddress.select(fn.MAX(TronAddress.derivation_index)).scalar()
    index = 0 if last is None else last + 1
    address = derive(xpub, index)
    now = utcnow()
    return TronAddress.create(
        user=user_id,
        derivation_index=index,
        address=address,
        address_hex=normalize(address),
        source="xpub",
        assigned_at=now,
    )


def _take_imported(user_id: int) -> TronAddress:
    free = (
        TronAddress.select()
        .where(TronAddress.user.is_null() & (TronAddress.source == "import"))
        .order_by(TronAddress.id)
        .first()
    )
    if free is None:
        raise NoDepositAddress("no deposit address available: set an xpub or import addresses")
    taken = (
        TronAddress.update(user=user_id, assigned_at=utcnow())
        .where((TronAddress.id == free.id) & TronAddress.user.is_null())
        .execute()
    )
    if taken != 1:
        raise IntegrityError("address taken concurrently")
    return TronAddress.get_by_id(free.id)


def import_addresses(lines: list[str]) -> int:
    """Add watch-only addresses (one per line, first CSV column); returns how many were new.

    Every line is checked before anything is written, and all go in one transaction: a file with
    a bad line adds nothing.
    """
    wanted: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.split(",")[0].strip()
        if not text or text.startswith("#") or text.lower() == "address":
            continue
        try:
            wanted.append(normalize(text))
        except InvalidInput as exc:
            raise InvalidInput("addresses", f"line {number}: {exc.message}") from exc
    added = 0
    with write_transaction():
        for hex_form in dict.fromkeys(wanted):
            if TronAddress.select().where(TronAddress.address_hex == hex_form).exists():
                continue
            TronAddress.create(
                address=to_base58check_address(hex_form), address_hex=hex_form, source="import"
            )
            added += 1
    return added
