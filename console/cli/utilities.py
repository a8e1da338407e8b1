"""`tollgate utility ...`: the model each utility endpoint uses when a request names none."""

from __future__ import annotations

import click

from shared.utility_models import UTILITIES, assign, load_assigned, unassign

from .runtime import emit, json_option, opened_database, table

ENDPOINT = click.Choice(list(UTILITIES))


@click.group()
def utility() -> None:
    """Models assigned to /v1/moderations, /v1/translations, /v1/classifications and /v1/ocr."""


@utility.command("list")
@json_option
def list_utilities(as_json: bool) -> None:
    """Show each utility endpoint with its assigned model (none: requests must name one)."""
    with opened_database():
        assigned = load_assigned()
    rows = [{"endpoint": name, "model": assigned.get(name)} for name in UTILITIES]
    emit(rows, as_json, lambda r: table(r, ["endpoint", "model"], "no utility endpoints"))


@utility.command("set")
@click.argument("endpoint", type=ENDPOINT)
@click.argument("model_id")
@json_option
def set_utility(endpoint: str, model_id: str, as_json: bool) -> None:
    """Assign MODEL_ID (a catalogue model of the endpoint's modality) to ENDPOINT."""
    with opened_database():
        assign(endpoint, model_id)
    emit({"endpoint": endpoint, "model": model_id}, as_json, lambda r: f"{r['endpoint']} uses {r['model']}")


@utility.command("unset")
@click.argument("endpoint", type=ENDPOINT)
@json_option
def unset_utility(endpoint: str, as_json: bool) -> None:
    """Forget ENDPOINT's model; requests to it must then name one."""
    with opened_database():
        removed = unassign(endpoint)
    text = f"{endpoint} has no assigned model" + ("" if removed else " (it had none)")
    emit({"endpoint": endpoint, "model": None, "removed": removed}, as_json, lambda r: text)
