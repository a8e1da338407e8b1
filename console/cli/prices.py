"""`tollgate prices ...`: sync costs and sale prices from price sources, markup rules, approvals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click

from shared.errors import InvalidInput
from shared.pricing import settings as price_settings
from shared.pricing import sync as price_sync
from shared.pricing.markup import Rule, Rules

from .runtime import amount, emit, iso, json_option, opened_database, table, usd


def _prices(meters: dict[str, int]) -> str:
    return ", ".join(f"{m} {usd(v)}" for m, v in sorted(meters.items())) or "-"


def _change_line(change: dict[str, Any]) -> str:
    held = f"  HELD (approve with: tollgate prices approve {change['change_id']})" if change["held"] else ""
    routes = f"; costs of route(s) {', '.join(change['costs'])}" if change["costs"] else ""
    moved = f"{_prices(change['old_prices'])} -> {_prices(change['prices'])}"
    return f"{change['model']} [{change['source']}]: {moved}{routes}{held}"


def _sync_text(result: dict[str, Any]) -> str:
    verb = "would change" if result["dry_run"] else "changed"
    lines = [f"{verb}: {len(result['applied'])}, held for approval: {len(result['held'])}"]
    lines += [_change_line(c) for c in result["applied"] + result["held"]]
    lines += [f"unmatched: {u}" for u in result["unmatched"]]
    lines += [
        f"source {s['name']}: {'ok' if s['ok'] else 'FAILED ' + s['error']}"
        + (f" ({s['note']})" if s.get("note") else "")
        for s in result["sources"]
    ]
    return "\n".join(lines)


@click.group()
def prices() -> None:
    """Price sync: sources, markup rules, approvals and pinned prices."""


@prices.command("sync")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@json_option
def sync(dry_run: bool, as_json: bool) -> None:
    """Read the price sources and update costs and sale prices (large moves wait for approval)."""
    with opened_database() as settings:
        result = price_sync.sync(dry_run=dry_run, secret_key=settings.secret_key).to_json()
    emit(result, as_json, _sync_text)


def _status_text(status: dict[str, Any]) -> str:
    lines = [f"last sync: {status['last_sync_at'] or 'never'}"]
    for s in status["sources"]:
        state = "ok" if s["ok"] else f"FAILED at {s['error_at']}: {s['error']}"
        lines.append(f"{s['name']}: {state} (last read {s.get('last_ok_at') or 'never'})")
    lines.append(f"pending approvals: {status['pending']}")
    return "\n".join(lines)


@prices.command("status")
@json_option
def status(as_json: bool) -> None:
    """When prices were last synced, each source's last error, and how many changes wait."""
    with opened_database():
        data = dict(price_settings.status(), pending=len(price_sync.pending()))
    emit(data, as_json, _status_text)


@prices.group("sources")
def sources() -> None:
    """The price sources, in the order they are tried."""


@sources.command("set")
@click.argument("specs", nargs=-1, required=True)
@json_option
def sources_set(specs: tuple[str, ...], as_json: bool) -> None:
    """Set the sources, first tried first: genai-prices[=URL], openrouter=URL, litellm=URL, provider."""
    with opened_database():
        price_settings.set_sources([price_settings.parse_spec(s) for s in specs])
        rows = [{"kind": s.kind, "url": s.url} for s in price_settings.sources()]
    emit(rows, as_json, lambda r: table(r, ["kind", "url"], "no sources"))


@sources.command("list")
@json_option
def sources_list(as_json: bool) -> None:
    """List the sources in order."""
    with opened_database():
        rows = [{"kind": s.kind, "url": s.url} for s in price_settings.sources()]
    emit(rows, as_json, lambda r: table(r, ["kind", "url"], "no sources"))


@prices.group("markup")
def markup() -> None:
    """Markup rules: sale = cost × (1 + percent) + fixed, rounded up to a step."""


def _rule_row(scope: str, name: str, rule: Rule) -> dict[str, Any]:
    return {
        "scope": scope,
        "name": name,
        "markup_pct": str(rule.markup_pct),
        "fixed_usd": usd(rule.fixed),
        "step_usd": usd(rule.step),
    }


def _rule_rows(rules: Rules) -> list[dict[str, Any]]:
    rows = [_rule_row("global", "", rules.default)]
    rows += [_rule_row("provider", k, r) for k, r in sorted(rules.providers.items())]
    return rows + [_rule_row("model", k, r) for k, r in sorted(rules.models.items())]


@markup.command("set")
@click.option("--percent", required=True, help="Markup over cost in percent, e.g. 5 or 12.5.")
@click.option("--fixed", default="0", show_default=True, help="USD added to every price.")
@click.option("--step", default="0.000000001", show_default=True, help="Round sale prices up to this USD.")
@click.option("--model", "model_slug", default=None, help="Only this model.")
@click.option("--provider", "provider_name", default=None, help="Only routes via this provider.")
@json_option
def markup_set(
    percent: str, fixed: str, step: str, model_slug: str | None, provider_name: str | None, as_json: bool
) -> None:
    """Set the global rule, or a provider's or a model's (which wins over the provider's)."""
    try:
        pct = Decimal(percent)
    except InvalidOperation as exc:
        raise click.ClickException("--percent: must be a number") from exc
    with opened_database():
        rule = Rule.from_json(
            {"markup_pct": str(pct), "fixed": amount("--fixed", fixed), "step": amount("--step", step)}
        )
        if model_slug and provider_name:
            raise InvalidInput("--model", "give --model or --provider, not both")
        scope = "model" if model_slug else "provider" if provider_name else "global"
        rows = _rule_rows(price_settings.set_rule(scope, model_slug or provider_name or "", rule))
    emit(
        rows,
        as_json,
        lambda r: table(r, ["scope", "name", "markup_pct", "fixed_usd", "step_usd"], "no rules"),
    )


@markup.command("list")
@json_option
def markup_list(as_json: bool) -> None:
    """List the markup rules."""
    with opened_database():
        rows = _rule_rows(price_settings.rules())
    emit(
        rows,
        as_json,
        lambda r: table(r, ["scope", "name", "markup_pct", "fixed_usd", "step_usd"], "no rules"),
    )


@prices.command("threshold")
@click.argument("percent")
@json_option
def threshold(percent: str, as_json: bool) -> None:
    """Hold a synced sale price for approval when it moves by more than PERCENT (default 20)."""
    try:
        value = Decimal(percent)
    except InvalidOperation as exc:
        raise click.ClickException("percent: must be a number") from exc
    with opened_database():
        price_settings.set_threshold_pct(value)
    emit({"threshold_pct": str(value)}, as_json, lambda r: f"threshold {r['threshold_pct']} %")


def _change_row(change: Any) -> dict[str, Any]:
    return {
        "id": change.id,
        "model": change.model.slug,
        "source": change.source,
        "state": change.state,
        "old_prices": change.old_prices,
        "prices": change.prices,
        "created_at": iso(change.created_at),
        "decided_by": change.decided_by,
    }


@prices.command("pending")
@json_option
def pending(as_json: bool) -> None:
    """Changes waiting for approval."""
    with opened_database():
        rows = [_change_row(c) for c in price_sync.pending()]
    emit(
        rows,
        as_json,
        lambda r: (
            "\n".join(
                f"#{c['id']} {c['model']}: {_prices(c['old_prices'])} -> {_prices(c['prices'])}" for c in r
            )
            or "nothing pending"
        ),
    )


@prices.command("approve")
@click.argument("change_id", type=int)
@click.option("--by", "actor", default="cli", show_default=True, help="Who approves (recorded).")
@json_option
def approve(change_id: int, actor: str, as_json: bool) -> None:
    """Apply a held change."""
    with opened_database():
        row = _change_row(price_sync.approve(change_id, actor))
    emit(row, as_json, lambda r: f"applied change #{r['id']} to {r['model']}")


@prices.command("reject")
@click.argument("change_id", type=int)
@click.option("--by", "actor", default="cli", show_default=True, help="Who rejects (recorded).")
@json_option
def reject(change_id: int, actor: str, as_json: bool) -> None:
    """Drop a held change."""
    with opened_database():
        row = _change_row(price_sync.reject(change_id, actor))
    emit(row, as_json, lambda r: f"rejected change #{r['id']} to {r['model']}")


@prices.command("pin")
@click.argument("model_slug")
@click.option("--unpin", is_flag=True, help="Let syncs set this model's prices again.")
@json_option
def pin(model_slug: str, unpin: bool, as_json: bool) -> None:
    """Keep a model's sale prices as set by hand (syncs still update its routes' costs)."""
    with opened_database():
        model = price_sync.pin(model_slug, not unpin)
    emit(
        {"model": model.slug, "prices_pinned": model.prices_pinned},
        as_json,
        lambda r: f"{r['model']}: prices {'pinned' if r['prices_pinned'] else 'synced'}",
    )


@prices.command("match")
@click.argument("model_slug")
@click.argument("entry")
@click.option("--provider", "provider_name", default=None, help="Only the route via this provider.")
@json_option
def match(model_slug: str, entry: str, provider_name: str | None, as_json: bool) -> None:
    """Price a model's routes from this source entry id (e.g. openai/gpt-4o-mini); '-' matches again."""
    with opened_database():
        count = price_sync.pin_match(model_slug, None if entry == "-" else entry, provider_name)
    emit(
        {"model": model_slug, "entry": None if entry == "-" else entry, "routes": count},
        as_json,
        lambda r: f"{r['model']}: {r['routes']} route(s) priced from {r['entry'] or 'the best match'}",
    )


@prices.command("history")
@click.option("--limit", default=20, show_default=True)
@json_option
def history(limit: int, as_json: bool) -> None:
    """The latest price versions, newest first."""
    with opened_database():
        rows = [
            {
                "id": v.id,
                "model": v.model.slug,
                "prices": v.prices,
                "effective_at": iso(v.effective_at),
                "source": v.source,
                "actor": v.actor,
            }
            for v in price_sync.history(limit)
        ]
    emit(
        rows,
        as_json,
        lambda r: (
            "\n".join(
                f"{v['effective_at']} {v['model']} [{v['source']} by {v['actor']}]: {_prices(v['prices'])}"
                for v in r
            )
            or "no price versions"
        ),
    )
