"""The model the operator assigns to each utility endpoint, kept in the `kv` table as "utility.<endpoint>".

A request to `/v1/moderations`, `/v1/translations`, `/v1/classifications` or `/v1/ocr` that names
no model gets the assigned one (`tollgate utility set translations MODEL`). The data planes read
the assignments with their snapshot, so a change reaches them within a config poll.
"""

from __future__ import annotations

from shared.config_version import bump_config_version
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.models import CatalogModel, KeyValue

PREFIX = "utility."
# Each utility endpoint and the modality its model must have.
UTILITIES: dict[str, str] = {
    "moderations": "moderation",
    "translations": "chat",
    "classifications": "chat",
    "ocr": "chat",
}


def _checked(utility: str) -> str:
    if utility not in UTILITIES:
        raise InvalidInput("utility", f"unknown utility endpoint {utility!r}; one of {', '.join(UTILITIES)}")
    return utility


def load_assigned() -> dict[str, str]:
    """{utility endpoint: model slug} for every endpoint the operator assigned a model to."""
    rows = KeyValue.select().where(KeyValue.key.startswith(PREFIX))
    return {row.key[len(PREFIX) :]: row.value for row in rows if row.key[len(PREFIX) :] in UTILITIES}


def assign(utility: str, slug: str) -> None:
    """Make `slug` the model of `utility`; the model must exist and have the endpoint's modality."""
    modality = UTILITIES[_checked(utility)]
    model = CatalogModel.get_or_none(CatalogModel.slug == slug)
    if model is None:
        raise InvalidInput("model", f"no model {slug} in the catalogue")
    if model.modality != modality:
        raise InvalidInput("model", f"{slug} is a {model.modality} model; {utility} needs a {modality} model")
    with write_transaction():
        KeyValue.insert(key=PREFIX + utility, value=slug).on_conflict(
            conflict_target=[KeyValue.key], update={KeyValue.value: slug}
        ).execute()
    bump_config_version()


def unassign(utility: str) -> bool:
    """Forget the model of `utility`; whether one was assigned."""
    with write_transaction():
        removed = KeyValue.delete().where(KeyValue.key == PREFIX + _checked(utility)).execute()
    if removed:
        bump_config_version()
    return bool(removed)
