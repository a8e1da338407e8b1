"""Keys and addresses: watch-only derivation matches the vectors; no private key near the web or worker."""

from __future__ import annotations

import subprocess
import sys

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from tronpy.keys import PrivateKey

from shared.accounts import create_user
from shared.errors import InvalidInput
from shared.settings import Secret, Settings
from shared.tron import addresses, config
from shared.tron.addresses import NoDepositAddress, derive, normalize, to_base58
from shared.tron.models import TronAddress
from shared.tron.signing import Signer
from tests.tron.conftest import MNEMONIC, SENDER, STRANGER, VECTORS, XPUB
from tests.tron.fake_node import USDT, USDT_HEX


def test_xpub_and_mnemonic_derive_the_vector_addresses() -> None:
    assert [derive(XPUB, i) for i in range(3)] == VECTORS
    signer = Signer(Secret(MNEMONIC))
    assert signer.xpub == XPUB
    assert [signer.key(i).public_key.to_base58check_address() for i in range(3)] == VECTORS
    assert signer.fee_key().public_key.to_base58check_address() == derive(XPUB, 0, chain=1)
    assert "abandon" not in repr(signer)


def test_deterministic_test_keys() -> None:
    assert PrivateKey(b"\x01" * 32).public_key.to_base58check_address() == SENDER
    assert PrivateKey(b"\x02" * 32).public_key.to_base58check_address() == STRANGER


@pytest.mark.parametrize("form", [USDT, USDT_HEX, "0x" + USDT_HEX[2:], USDT_HEX[2:], USDT_HEX.upper()])
def test_address_forms_round_trip(form: str) -> None:
    assert normalize(form) == USDT_HEX
    assert to_base58(form) == USDT


@pytest.mark.parametrize(
    "bad",
    [
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u",
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6",
        "42" + USDT_HEX[2:],
        "0xzz",
        "",
        "USDT",
    ],
)
def test_bad_addresses_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize(bad)


def test_config_refuses_a_private_key_or_a_wrong_depth(settings: Settings) -> None:
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    account = Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)
    with pytest.raises(InvalidInput, match="private key"):
        config.update({"xpub": account.PrivateKey().ToExtended()}, settings.secret_key)
    with pytest.raises(InvalidInput, match="depth 3"):
        config.update(
            {"xpub": account.Change(Bip44Changes.CHAIN_EXT).PublicKey().ToExtended()}, settings.secret_key
        )
    assert config.load(settings.secret_key).xpub == ""


def test_addresses_are_assigned_once_in_order(tron: config.TronConfig) -> None:
    users = [create_user(f"u{i}@example.com") for i in range(3)]
    assigned = [addresses.assign(u.id, XPUB).address for u in users]
    assert assigned == VECTORS
    assert addresses.assign(users[0].id, XPUB).address == VECTORS[0]


def test_imported_addresses_are_handed_out_then_run_out(settings: Settings) -> None:
    assert addresses.import_addresses(["address", SENDER + ",note", "# comment", STRANGER, SENDER]) == 2
    users = [create_user(f"u{i}@example.com") for i in range(3)]
    assert [addresses.assign(u.id, "").address for u in users[:2]] == [SENDER, STRANGER]
    with pytest.raises(NoDepositAddress):
        addresses.assign(users[2].id, "")
    with pytest.raises(InvalidInput, match="line 1"):
        addresses.import_addresses(["Tnotanaddress"])


def test_a_file_with_a_bad_line_imports_nothing(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="line 2: not a TRON address"):
        addresses.import_addresses([SENDER, "Tnope", STRANGER])

    assert TronAddress.select().count() == 0


def test_web_and_worker_never_load_signing_code() -> None:
    probe = (
        "import sys, console, console.deposits, shared.jobs, shared.tron.scanner, shared.tron.claims;"
        "bad = [m for m in ('shared.tron.signing', 'shared.tron.sweeper') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not {f.lower() for f in config.EDITABLE} & {"mnemonic", "private_key", "xprv", "seed"}
