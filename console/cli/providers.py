"""`tollgate provider ...`: register and list upstream providers (keys stored encrypted)."""

from __future__ import annotations

from typing import Any

import click

from shared import catalog
from shared.models import Provider
from shared.pricing import imports
from shared.pricing.sources import SourceError
from shared.settings import Settings
from shared.vault import VaultError, decrypt, mask

from .runtime import emit, iso, json_option, opened_database, table


def masked_key(provider: Provider, settings: Settings) -> str:
    """The provider's key as its last four characters at most."""
    try:
        return mask(decrypt(provider.api_key_encrypted, settings.secret_key))
    except VaultError:
        return "(cannot decrypt: TOLLGATE_SECRET_KEY changed?)"


def provider_row(provider: Provider, settings: Settings) -> dict[str, Any]:
    """What the CLI shows of a provider."""
    return {
        "id": provider.id,
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "api_key": masked_key(provider, settings),
        "timeout_s": provider.timeout_s,
        "enabled": provider.enabled,
        "created_at": iso(provider.created_at),
    }


@click.group()
def provider() -> None:
    """Upstream providers."""


@provider.command("add")
@click.argument("name")
@click.option("--base-url", required=True, help="e.g. https://upstream.example/v1")
@click.option("--api-key", default="", help="The provider's key (stored encrypted).")
@click.option("--kind", type=click.Choice(catalog.PROVIDER_KINDS), default="openai", show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True, help="Seconds.")
@json_option
def add(name: str, base_url: str, api_key: str, kind: str, timeout_s: float, as_json: bool) -> None:
    """Register an upstream provider."""
    with opened_database() as settings:
        created = catalog.add_provider(
            name, base_url, api_key, settings.secret_key, kind=kind, timeout_s=timeout_s
        )
        row = provider_row(Provider.get_by_id(created.id), settings)
    emit(row, as_json, lambda r: f"added provider {r['name']} ({r['kind']}, {r['base_url']})")


@provider.command("list")
@json_option
def list_providers(as_json: bool) -> None:
    """List providers; keys are masked."""
    with opened_database() as settings:
        rows = [provider_row(p, settings) for p in Provider.select().order_by(Provider.name)]
    columns = ["id", "name", "kind", "base_url", "api_key", "timeout_s", "enabled"]
    emit(rows, as_json, lambda r: table(r, columns, "no providers"))


def _imported_text(rows: list[dict[str, Any]], dry_run: bool) -> str:
    verb = "would import" if dry_run else "imported"
    lines = [
        f"{r['upstream_model']} -> {r['model']}: {r['state']}" + (f" [{r['source']}]" if r["source"] else "")
        for r in rows
    ]
    return "\n".join([f"{verb}: {sum(r['state'] != 'already configured' for r in rows)}", *lines])


@provider.command("import")
@click.argument("name")
@click.argument("models", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every listed model not routed yet.")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; change nothing.")
@json_option
def import_models(name: str, models: tuple[str, ...], every: bool, dry_run: bool, as_json: bool) -> None:
    """Add models (as NAME/UPSTREAM-ID) and routes from the provider's /models listing.

    Costs come from the listing or the price sources, sale prices from the markup rules; a model
    nothing prices is imported disabled.
    """
    if every == bool(models):
        raise click.ClickException("give the upstream model ids to import, or --all")
    with opened_database() as settings:
        try:
            done = imports.import_models(
                catalog.get_provider(name), settings.secret_key, None if every else list(models),
                dry_run=dry_run, actor="cli",
            )  # fmt: skip
        except SourceError as exc:
            raise click.ClickException(f"{name}: cannot read its model listing: {exc}") from exc
    rows = [d.to_json() for d in done]
    emit(rows, as_json, lambda r: _imported_text(r, dry_run))
