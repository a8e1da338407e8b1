"""Operator settings for TRON deposits, kept in the `kv` table under "tron.*".

They are edited in the console and with `tollgate tron config set` (amounts in USDT for the
`*_micro` settings and in TRX for the `*_sun` ones); every process reads them when
it needs them, so a change takes effect on the scanner's next run. The node's API key is stored
encrypted with the deployment's secret key. Nothing here is ever a private key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from shared import vault
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import KeyValue
from shared.settings import Secret
from shared.tron.addresses import normalize, to_base58, validate_xpub
from shared.tron.models import TronAddress
from shared.tron.rate import Rate, parse_rate

PREFIX = "tron."
NETWORKS = ("mainnet", "nile", "shasta")
DISCOVERY_MODES = ("blocks", "trongrid", "logs")
MAINNET_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@dataclass(frozen=True)
class TronConfig:
    """What the operator configured; `api_key` is decrypted, the rest is as stored."""

    network: str = "mainnet"
    node_url: str = ""
    api_key: Secret = Secret("")
    usdt_contract: str = MAINNET_USDT
    min_deposit_micro: int = 5_000_000
    rate: str = "1"
    rate_set_on: str = ""
    xpub: str = ""
    discovery: str = "blocks"
    start_block: int = 0  # 0: start at the solid head seen on the first run
    sweep_threshold_micro: int = 10_000_000
    treasury: str = ""
    fee_limit_sun: int = 50_000_000
    topup_sun: int = 30_000_000  # TRX sent to a deposit address that cannot pay its sweep's fee

    @property
    def usdt_hex(self) -> str:
        """The configured USDT contract as "41…" hex (what logs are compared with)."""
        return normalize(self.usdt_contract)

    @property
    def current_rate(self) -> Rate:
        """The configured rate with its source, snapshotted onto each new deposit."""
        return parse_rate(self.rate, self.rate_set_on)

    @property
    def ready(self) -> bool:
        """True once a node and a source of addresses are configured."""
        return bool(self.node_url) and (bool(self.xpub) or TronAddress.select().exists())


INT_FIELDS = {f.name for f in fields(TronConfig) if f.type in ("int", int)}
EDITABLE = tuple(f.name for f in fields(TronConfig) if f.name != "rate_set_on")


def load(secret_key: Secret) -> TronConfig:
    """Read the configuration (defaults for what was never set)."""
    stored = {
        row.key[len(PREFIX) :]: row.value
        for row in KeyValue.select().where(KeyValue.key.startswith(PREFIX))
        if row.key[len(PREFIX) :] in EDITABLE or row.key == PREFIX + "rate_set_on"
    }
    values: dict[str, object] = {}
    for name, raw in stored.items():
        if name == "api_key":
            values[name] = Secret(vault.decrypt(raw, secret_key))
        elif name in INT_FIELDS:
            values[name] = int(raw)
        else:
            values[name] = raw
    return replace(TronConfig(), **values)


def update(changes: dict[str, str], secret_key: Secret, today: dt.date | None = None) -> TronConfig:
    """Validate and store some settings at once; raises InvalidInput naming the bad field."""
    clean: dict[str, str] = {}
    for name, raw in changes.items():
        if name not in EDITABLE:
            raise InvalidInput(name, f"unknown setting; known: {', '.join(EDITABLE)}")
        clean[name] = _validate(name, str(raw).strip())
    if "xpub" in clean:
        _check_xpub_change(clean["xpub"], secret_key)
    _check_network(clean, secret_key)
    if "rate" in clean:
        clean["rate_set_on"] = (today or dt.date.today()).isoformat()
    with write_transaction():
        for name, value in clean.items():
            stored = vault.encrypt(value, secret_key) if name == "api_key" else value
            KeyValue.insert(key=PREFIX + name, value=stored).on_conflict(
                conflict_target=[KeyValue.key], update={KeyValue.value: stored}
            ).execute()
    return load(secret_key)


def _validate(name: str, value: str) -> str:
    if name == "network" and value not in NETWORKS:
        raise InvalidInput(name, f"must be one of {', '.join(NETWORKS)}")
    if name == "discovery" and value not in DISCOVERY_MODES:
        raise InvalidInput(name, f"must be one of {', '.join(DISCOVERY_MODES)}")
    if name == "node_url":
        return _validate_url(value)
    if name in ("usdt_contract", "treasury"):
        return to_base58(value) if value or name == "usdt_contract" else ""
    if name == "xpub":
        return validate_xpub(value) if value else ""
    if name == "rate":
        return parse_rate(value).text
    if name.endswith("_micro") or name.endswith("_sun"):
        return str(_six_decimals(name, value))
    if name in INT_FIELDS:
        return str(_non_negative_int(name, value))
    return value


def _validate_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput("node_url", "must be an http(s) URL, e.g. https://api.trongrid.io")
    return value.rstrip("/") + "/"


def _six_decimals(name: str, value: str) -> int:
    """A USDT (for *_micro) or TRX (for *_sun) amount with up to 6 decimals, as an integer."""
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidInput(name, f"not an amount: {value!r}") from exc
    scaled = amount.scaleb(6)
    if not scaled.is_finite() or scaled < 0 or scaled != scaled.to_integral_value():
        raise InvalidInput(name, "must be a non-negative amount with at most 6 decimals")
    return int(scaled)


def _non_negative_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidInput(name, f"must be a whole number, got {value!r}") from exc
    if number < 0:
        raise InvalidInput(name, "must not be negative")
    return number


def _check_network(clean: dict[str, str], secret_key: Secret) -> None:
    """Refuse the mainnet USDT contract on a test network: testnet credits must never look real."""
    current = load(secret_key)
    network = clean.get("network", current.network)
    contract = clean.get("usdt_contract", current.usdt_contract)
    if network != "mainnet" and contract == MAINNET_USDT:
        raise InvalidInput(
            "usdt_contract", f"{MAINNET_USDT} is mainnet USDT: set the {network} token's contract"
        )


def _check_xpub_change(new_xpub: str, secret_key: Secret) -> None:
    """Refuse to swap the xpub under addresses already derived from another one."""
    current = load(secret_key).xpub
    derived = TronAddress.select().where(TronAddress.source == "xpub").exists()
    if derived and current and new_xpub != current:
        raise InvalidInput("xpub", "deposit addresses were already derived from another xpub")
