"""Deposits: the customer's Deposit tab (address, QR, "I've paid", history) and the operator's
deposits, scanner state, reconciliation and TRON settings.

Node calls made from a page ("I've paid", reconciliation) use a short timeout and turn any node
failure into a message on the page, never a 500. Customers only ever see their own rows.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, request
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from qrcode import make as make_qr
from qrcode.image.svg import SvgPathImage
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from console.access import me, operator_required
from console.htmx import hx_redirect, render_page
from shared.billing import held_for
from shared.errors import InvalidInput
from shared.models import User, utcnow
from shared.settings import Settings
from shared.tron import addresses, claims, lease
from shared.tron import config as tron_config
from shared.tron.models import TronDeposit, TronPending, TronSweep
from shared.tron.node import NodeUnavailable, TronNode
from shared.tron.pending import SOLID_CONFIRMATIONS, confirmations
from shared.tron.rate import format_usdt
from shared.tron.reconciliation import reconcile
from shared.tron.scanner import LEASE_NAME
from shared.tron.state import load_state

bp = Blueprint("deposits", __name__)

PAGE_NODE_TIMEOUT_S = 5.0
ADMIN_ROWS = 200
CONFIG_FIELDS = (
    "network",
    "node_url",
    "api_key",
    "usdt_contract",
    "min_deposit_micro",
    "rate",
    "xpub",
    "discovery",
    "start_block",
    "sweep_threshold_micro",
    "treasury",
)


class ClaimForm(FlaskForm):
    """ "I've paid": a transaction id to check now."""

    txid = StringField("Transaction id (TXID)", validators=[Length(max=100)])


class TronConfigForm(FlaskForm):
    """The operator's TRON settings; an empty API key field keeps the stored key."""

    network = SelectField("Network", choices=[SelectChoice(n, n) for n in tron_config.NETWORKS])
    node_url = StringField("Node URL", validators=[Optional(), Length(max=500)])
    api_key = PasswordField("API key (leave empty to keep)", validators=[Optional(), Length(max=200)])
    usdt_contract = StringField("USDT contract", validators=[Length(max=64)])
    min_deposit_micro = StringField("Minimum deposit (USDT)", validators=[Length(max=30)])
    rate = StringField("Rate (USD of balance per USDT)", validators=[Length(max=30)])
    xpub = StringField("Account xpub (m/44'/195'/0')", validators=[Optional(), Length(max=200)])
    discovery = SelectField("Discovery", choices=[SelectChoice(m, m) for m in tron_config.DISCOVERY_MODES])
    start_block = StringField("Start block (0: the solid head at first run)", validators=[Length(max=20)])
    sweep_threshold_micro = StringField("Sweep threshold (USDT)", validators=[Length(max=30)])
    treasury = StringField("Treasury address", validators=[Optional(), Length(max=64)])


def _settings() -> Settings:
    return current_app.config["TOLLGATE"]


def _config() -> tron_config.TronConfig:
    return tron_config.load(_settings().secret_key)


def _node(config: tron_config.TronConfig) -> TronNode:
    return TronNode(
        config.node_url, config.api_key, timeout_s=min(PAGE_NODE_TIMEOUT_S, _settings().tron_node_timeout_s)
    )


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of `text` (a deposit address we derived, so safe to embed)."""
    image = make_qr(text, image_factory=SvgPathImage, box_size=8, border=2)
    return Markup(image.to_string(encoding="unicode"))


@bp.app_template_filter("usdt")
def usdt(amount_micro: int | None) -> str:
    """Micro-USDT as "12.34"."""
    return "—" if amount_micro is None else format_usdt(amount_micro)


@bp.get("/billing/deposit")
@login_required
def index():
    """The customer's deposit address, its QR code, the rules and their deposits."""
    return _customer_page(ClaimForm())


@bp.post("/billing/deposit/check")
@login_required
def check():
    """ "I've paid": check one transaction now; it can only credit the receiving address's owner."""
    form = ClaimForm()
    config = _config()
    address = addresses.address_of(me().id)
    if not form.validate_on_submit():
        return _customer_page(form)  # the field's own error, e.g. too long
    if address is None or not config.ready:
        flash(_("Open the Deposit tab first, then paste the transaction id."), "error")
        return _customer_page(form)
    try:
        txid = claims.parse_txid(form.txid.data or "")
        claims.throttle(me().id)
        node = _node(config)
        try:
            result = claims.claim(me().id, txid, config, node, address)
        finally:
            node.close()
    except InvalidInput as exc:
        form.txid.errors = [exc.message]
        return _customer_page(form)
    except claims.TooManyClaims as exc:
        flash(str(exc).capitalize() + ".", "error")
        return _customer_page(form)
    except NodeUnavailable:
        flash(
            _("The TRON node could not be reached; your deposit will still be found automatically."), "error"
        )
        return _customer_page(form)
    flash(result.message, "ok" if result.status in ("credited", "recorded", "already") else "info")
    return hx_redirect(_url("deposits.index"))


def _customer_page(form: ClaimForm):
    config = _config()
    user = me()
    address, problem = None, ""
    if config.ready:
        try:
            address = addresses.assign(user.id, config.xpub)
            claims.mark_hot(address)
        except addresses.NoDepositAddress as exc:
            problem = str(exc)
    state = load_state(config.network)
    context = {
        "config": config,
        "address": address,
        "problem": problem,
        "qr": qr_svg(address.address) if address else "",
        "units_per_usdt": config.current_rate.units(1_000_000),
        "min_usdt": format_usdt(config.min_deposit_micro),
        "deposits": _deposits(TronDeposit.user == user.id, 100),
        "pending": _pending(user.id, state.head_seen),
        "delayed": state.delayed(utcnow()),
        "needed": SOLID_CONFIRMATIONS,
        "form": form,
        "user": User.get_by_id(user.id),
        "held": held_for(user.id),
    }
    return render_page("deposits/index.html", "deposits/_table.html", **context)


def _deposits(condition, limit: int) -> list[TronDeposit]:  # type: ignore[no-untyped-def]
    query = TronDeposit.select(TronDeposit, User).join(User).where(condition)
    return list(query.order_by(TronDeposit.created_at.desc(), TronDeposit.id.desc()).limit(limit))


def _pending(user_id: int, head: int) -> list[dict]:
    rows = TronPending.select().where(TronPending.user == user_id).order_by(TronPending.block_number)
    return [{"row": p, "confirmations": confirmations(p.block_number, head)} for p in rows]


def _url(endpoint: str) -> str:
    return current_app.url_for(endpoint)


@bp.get("/operator/deposits")
@operator_required
def admin():
    """Every deposit, the scanner's state, sweeps and the TRON settings."""
    config = _config()
    return _admin_page(_config_form(config), config)


@bp.post("/operator/deposits/config")
@operator_required
def update_config():
    """Save the TRON settings; a bad value is shown next to its field and nothing is saved."""
    config = _config()
    form = TronConfigForm()
    if not form.validate_on_submit():
        return _admin_page(form, config)
    changes = {name: (getattr(form, name).data or "").strip() for name in CONFIG_FIELDS}
    if not changes["api_key"]:
        changes.pop("api_key")
    try:
        tron_config.update(changes, _settings().secret_key)
    except InvalidInput as exc:
        getattr(form, exc.field).errors = [exc.message]
        return _admin_page(form, config)
    flash("TRON settings saved; the scanner uses them from its next run.", "ok")
    return hx_redirect(_url("deposits.admin"))


@bp.post("/operator/deposits/reconcile")
@operator_required
def run_reconciliation():
    """Compare each address's on-chain USDT with credited minus swept, now."""
    config = _config()
    rows, error = [], ""
    if config.ready:
        node = _node(config)
        try:
            rows = reconcile(config, node)
        except NodeUnavailable as exc:
            error = f"The node could not be asked: {exc}"
        finally:
            node.close()
    else:
        error = "TRON deposits are not configured."
    return _admin_page(_config_form(config), config, reconciliation=rows, reconciliation_error=error)


def _admin_page(form: TronConfigForm, config: tron_config.TronConfig, **extra):  # type: ignore[no-untyped-def]
    status = request.args.get("status", "")
    condition = (TronDeposit.status == status) if status else (TronDeposit.id > 0)
    context = {
        "config": config,
        "form": form,
        "state": load_state(config.network),
        "lease_holder": lease.holder_of(LEASE_NAME, utcnow()),
        "deposits": _deposits(condition, ADMIN_ROWS),
        "sweeps": list(TronSweep.select().order_by(TronSweep.id.desc()).limit(50)),
        "status_filter": status,
        "api_key_set": bool(str(config.api_key)),
        **extra,
    }
    return render_page("deposits/admin.html", "deposits/_admin_table.html", **context)


def _config_form(config: tron_config.TronConfig) -> TronConfigForm:
    return TronConfigForm(
        network=config.network,
        node_url=config.node_url,
        usdt_contract=config.usdt_contract,
        min_deposit_micro=format_usdt(config.min_deposit_micro),
        rate=config.rate,
        xpub=config.xpub,
        discovery=config.discovery,
        start_block=str(config.start_block),
        sweep_threshold_micro=format_usdt(config.sweep_threshold_micro),
        treasury=config.treasury,
    )
