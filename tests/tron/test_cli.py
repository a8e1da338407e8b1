"""`tollgate tron ...` as an operator runs it."""

from __future__ import annotations

from pathlib import Path

from tronpy.keys import to_hex_address

from shared.accounts import create_user
from shared.models import User
from shared.tron import addresses
from shared.tron.models import TronAddress, TronSweep
from tests.cli.conftest import Cli, cli, snapshot  # noqa: F401 (fixtures)
from tests.tron.conftest import MNEMONIC, SENDER, STRANGER, VECTORS, XPUB
from tests.tron.fake_node import FakeTronNode


def configure(cli: Cli, fake: FakeTronNode) -> None:  # noqa: F811
    fake.mine(10)
    fake.solidify()
    for name, value in [
        ("node_url", fake.url),
        ("xpub", XPUB),
        ("start_block", "100"),
        ("api_key", "k-123456789"),
    ]:
        cli.ok("tron", "config", "set", name, value)


def test_config_set_show_and_refuse(cli: Cli, fake: FakeTronNode) -> None:  # noqa: F811
    configure(cli, fake)
    shown = cli.json("tron", "config", "show")
    assert shown["xpub"] == XPUB and shown["min_deposit_micro"] == "5" and shown["api_key"] == "…6789"
    assert shown["fee_wallet"] == addresses.derive(XPUB, 0, chain=1)
    before = snapshot()
    assert "rate" in cli.fails("tron", "config", "set", "rate", "zero")
    assert "xpub" in cli.fails("tron", "config", "set", "xpub", "xprv9z1p")
    assert "trongrid, logs" in cli.fails("tron", "config", "set", "discovery", "getlogs")
    assert snapshot() == before
    cli.ok("tron", "config", "set", "discovery", "logs")
    assert cli.json("tron", "config", "show")["discovery"] == "logs"


def test_scan_status_and_deposits(cli: Cli, fake: FakeTronNode) -> None:  # noqa: F811
    configure(cli, fake)
    user = create_user("alice@example.com")
    address = addresses.assign(user.id, XPUB)
    fake.add_transfer(SENDER, address.address, 12_340_000)
    fake.solidify()
    report = cli.json("tron", "scan")
    assert report["error"] == "" and [d["usdt"] for d in report["recorded"]] == ["12.34"]
    assert User.get_by_id(user.id).balance == 12_340_000_000
    assert cli.json("tron", "status")["cursor"] == fake.solid
    assert "credited" in cli.ok("tron", "deposits")


def test_import_addresses(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    listing = tmp_path / "addresses.csv"
    listing.write_text(f"address\n{SENDER}\n{STRANGER}\n")
    assert "imported 2" in cli.ok("tron", "import-addresses", str(listing))
    listing.write_text("Tnope\n")
    assert "line 1" in cli.fails("tron", "import-addresses", str(listing))
    assert TronAddress.select().count() == 2


def test_sweep_takes_the_mnemonic_at_run_time(cli: Cli, fake: FakeTronNode) -> None:  # noqa: F811
    configure(cli, fake)
    cli.ok("tron", "config", "set", "treasury", STRANGER)
    user = create_user("alice@example.com")
    address = addresses.assign(user.id, XPUB)
    assert address.address == VECTORS[0]
    fake.add_transfer(SENDER, address.address, 25_000_000)
    fake.accounts[to_hex_address(addresses.derive(XPUB, 0, chain=1))] = 500_000_000
    fake.solidify()
    assert "mnemonic" in cli.fails("tron", "sweep", "--mnemonic-stdin")  # nothing on stdin
    with_mnemonic = Cli({**cli.env, "TOLLGATE_TRON_MNEMONIC": MNEMONIC})
    outcomes = with_mnemonic.json("tron", "sweep")
    assert [o["status"] for o in outcomes] == ["swept"]
    assert fake.token_balance(STRANGER) == 25_000_000
    assert TronSweep.select().where(TronSweep.status == "confirmed").count() == 2
    assert all(MNEMONIC not in str(r["body"]) for r in fake.requests)
