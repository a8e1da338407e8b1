"""`tollgate tron ...`: USDT deposits on TRON: settings, addresses, scanner, reconciliation, sweeps.

The sweep is the only command that signs anything: it asks for the mnemonic at run time (prompt,
`--mnemonic-stdin`, or TOLLGATE_TRON_MNEMONIC for that one command) and never stores it.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import click

from shared.errors import InvalidInput
from shared.settings import Secret, Settings, read_tron_mnemonic
from shared.tron import addresses, config
from shared.tron.models import TronDeposit
from shared.tron.node import NodeUnavailable
from shared.tron.rate import format_usdt
from shared.tron.reconciliation import reconcile
from shared.tron.scanner import Scanner, default_node
from shared.tron.signing import Signer
from shared.tron.state import load_state
from shared.tron.sweeper import Sweeper
from shared.vault import mask

from .runtime import emit, iso, json_option, opened_database, table


def config_view(current: config.TronConfig) -> dict[str, Any]:
    """The settings as shown: amounts in USDT, the API key masked, plus the fee wallet."""
    view: dict[str, Any] = {f.name: getattr(current, f.name) for f in fields(current)}
    view["api_key"] = mask(str(current.api_key))
    for name in ("min_deposit_micro", "sweep_threshold_micro"):
        view[name] = format_usdt(view[name])
    view["fee_wallet"] = (
        addresses.derive(current.xpub, 0, chain=addresses.FEE_WALLET_CHAIN) if current.xpub else ""
    )
    return view


@click.group()
def tron() -> None:
    """USDT (TRC-20) deposits on TRON."""


@tron.group("config")
def config_group() -> None:
    """Deposit settings kept in the database."""


@config_group.command("show")
@json_option
def show(as_json: bool) -> None:
    """Print the TRON settings (amounts in USDT, the API key masked)."""
    with opened_database() as settings:
        view = config_view(config.load(settings.secret_key))
    emit(view, as_json, lambda v: "\n".join(f"{k}: {v[k]}" for k in v))


@config_group.command("set")
@click.argument("name", type=click.Choice(config.EDITABLE))
@click.argument("value")
def set_value(name: str, value: str) -> None:
    """Set one setting; *_micro amounts are in USDT, *_sun in TRX (e.g. `set min_deposit_micro 5`)."""
    with opened_database() as settings:
        config.update({name: value}, settings.secret_key)
    click.echo(f"set {name}")


@tron.command("import-addresses")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_addresses(path: Path) -> None:
    """Add watch-only deposit addresses, one per line (first CSV column)."""
    with opened_database():
        added = addresses.import_addresses(path.read_text().splitlines())
    click.echo(f"imported {added} new addresses")


@tron.command("scan")
@json_option
def scan(as_json: bool) -> None:
    """Run the deposit scanner once now (the worker does this every 30 s)."""
    with opened_database() as settings:
        report = Scanner(settings).run_once()
        data = {
            "skipped": report.skipped,
            "error": report.error,
            "blocks": report.blocks,
            "recorded": [_deposit_row(d) for d in report.recorded],
        }
    emit(data, as_json, _scan_text)
    if report.error:
        raise SystemExit(1)


def _scan_text(data: dict[str, Any]) -> str:
    if data["skipped"]:
        return f"skipped: {data['skipped']}"
    if data["error"]:
        return f"node error: {data['error']}"
    return f"scanned {data['blocks']} blocks, recorded {len(data['recorded'])} deposits"


@tron.command("status")
@json_option
def status(as_json: bool) -> None:
    """The scanner's state: cursor, heights, last run and error."""
    with opened_database() as settings:
        state = asdict(load_state(config.load(settings.secret_key).network))
    emit(state, as_json, lambda s: "\n".join(f"{k}: {s[k]}" for k in s if k != "extra"))


def _deposit_row(d: TronDeposit) -> dict[str, Any]:
    return {
        "id": d.id,
        "user_id": d.user_id,
        "txid": d.txid,
        "log_index": d.log_index,
        "usdt": format_usdt(d.amount_micro),
        "status": d.status,
        "credited_units": d.credited_units,
        "rate": d.rate,
        "reason": d.reason,
        "created_at": iso(d.created_at),
    }


@tron.command("deposits")
@click.option(
    "--status", "status_filter", default=None, help="credited, below_minimum, rejected, manual_review"
)
@click.option("--limit", default=50, show_default=True)
@json_option
def deposits(status_filter: str | None, limit: int, as_json: bool) -> None:
    """Recent deposits, newest first."""
    with opened_database():
        query = TronDeposit.select().order_by(TronDeposit.id.desc()).limit(limit)
        if status_filter:
            query = query.where(TronDeposit.status == status_filter)
        rows = [_deposit_row(d) for d in query]
    columns = ["id", "user_id", "txid", "log_index", "usdt", "status", "reason"]
    emit(rows, as_json, lambda r: table(r, columns, "no deposits"))


@tron.command("reconcile")
@json_option
def reconcile_command(as_json: bool) -> None:
    """Compare on-chain USDT per address with credited minus swept."""
    with opened_database() as settings:
        current = config.load(settings.secret_key)
        rows = _with_node(settings, current, lambda node: reconcile(current, node))
    data = [{**asdict(r), "expected": r.expected, "drift": r.drift} for r in rows]
    emit(
        data,
        as_json,
        lambda r: table(r, ["address", "user_id", "on_chain", "expected", "drift"], "no addresses"),
    )
    if any(r.drift for r in rows):
        raise SystemExit(1)


@tron.command("sweep")
@click.option("--mnemonic-stdin", is_flag=True, help="Read the mnemonic from standard input.")
@json_option
def sweep(mnemonic_stdin: bool, as_json: bool) -> None:
    """Move USDT above the threshold from deposit addresses to the treasury (signs with the mnemonic)."""
    mnemonic = _mnemonic(mnemonic_stdin)
    with opened_database() as settings:
        current = config.load(settings.secret_key)
        signer = Signer(mnemonic)
        outcomes = _with_node(settings, current, lambda node: Sweeper(current, node, signer).run())
    data = [asdict(o) for o in outcomes]
    emit(
        data, as_json, lambda r: table(r, ["address", "status", "amount", "txid", "message"], "no addresses")
    )
    if any(o.status == "failed" for o in outcomes):
        raise SystemExit(1)


def _mnemonic(from_stdin: bool) -> Secret:
    if from_stdin:
        return Secret(sys.stdin.readline().strip())
    return read_tron_mnemonic() or Secret(click.prompt("Mnemonic", hide_input=True))


def _with_node(settings: Settings, current: config.TronConfig, action):  # type: ignore[no-untyped-def]
    if not current.node_url:
        raise InvalidInput("node_url", "set the node URL first (tollgate tron config set node_url …)")
    node = default_node(current, settings.tron_node_timeout_s)
    try:
        return action(node)
    except NodeUnavailable as exc:
        raise click.ClickException(f"TRON node: {exc}") from exc
    finally:
        node.close()
