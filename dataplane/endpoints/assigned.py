"""The model a utility endpoint uses when a request names none: the operator's (shared/utility_models.py)."""

from __future__ import annotations

from dataplane.errors import bad_request
from dataplane.snapshot import Snapshot


def assigned_model(snapshot: Snapshot, endpoint: str, fallback: str | None = None) -> str:
    """The model assigned to `endpoint`, else `fallback`; a 400 asking for `model` when neither exists."""
    slug = snapshot.assigned.get(endpoint) or fallback
    if not slug:
        raise bad_request(
            "model",
            f"you must provide a model parameter: no model is assigned to /v1/{endpoint} on this gateway.",
        )
    return slug
