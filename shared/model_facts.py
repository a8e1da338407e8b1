"""What a catalogue model takes in and gives out, and how the public catalogue filters and sorts models.

Both the data plane's catalogue JSON and the console's Models page read a model's input and output
modalities from here, so the two never disagree: they follow from the model's modality and, for a
chat model, its capabilities (a chat model with `vision` also reads images).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shared.models import Provider, Route

# (inputs, outputs) per catalogue modality.
IO_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("text",), ("text",)),
    "embedding": (("text",), ("embedding",)),
    "image": (("text", "image"), ("image",)),
    "transcription": (("audio",), ("text",)),
    "speech": (("text",), ("audio",)),
    "moderation": (("text",), ("text",)),
    "rerank": (("text",), ("text",)),
}
SORTS = ("slug", "price", "context", "newest")
ORDERS = ("asc", "desc")
DEFAULT_ORDER = {"slug": "asc", "price": "asc", "context": "desc", "newest": "desc"}


def io_modalities(modality: str, capabilities: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(input modalities, output modalities): chat+vision reads text and images; image makes images."""
    inputs, outputs = IO_MODALITIES.get(modality, (("text",), ("text",)))
    inputs_list = list(inputs)
    if modality == "chat" and "vision" in capabilities:
        inputs_list.append("image")
    return inputs_list, list(outputs)


def split_values(values: Sequence[str]) -> list[str]:
    """Repeated and comma-separated query values as one list: ["a,b", "c"] → ["a", "b", "c"]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def providers_by_model(model_ids: Iterable[int]) -> dict[int, list[str]]:
    """{model id: names of the enabled providers of its enabled routes, sorted}, in one query."""
    ids = list(model_ids)
    found: dict[int, set[str]] = {}
    if ids:
        rows = (
            Route.select(Route.model, Provider.name)
            .join(Provider)
            .where(Route.model.in_(ids), Route.enabled == True, Provider.enabled == True)  # noqa: E712
            .tuples()
        )
        for model_id, name in rows:
            found.setdefault(model_id, set()).add(name)
    return {model_id: sorted(names) for model_id, names in found.items()}
