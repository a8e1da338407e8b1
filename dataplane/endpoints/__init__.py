"""The inference endpoints, one module each; the app's routes are built from `REGISTRY`.

Adding an endpoint: write its module (an `Endpoint` subclass, see base.py) and add it here.
"""

from __future__ import annotations

from dataplane.endpoints import (
    chat,
    classifications,
    completions,
    detections,
    embeddings,
    gemini,
    images,
    messages,
    moderations,
    ocr,
    rerank,
    responses,
    speech,
    transcriptions,
    translations,
)
from dataplane.endpoints.base import Endpoint

REGISTRY: tuple[Endpoint, ...] = (
    chat.ENDPOINT,
    embeddings.ENDPOINT,
    messages.ENDPOINT,
    responses.ENDPOINT,
    completions.ENDPOINT,
    moderations.ENDPOINT,
    rerank.ENDPOINT,
    translations.ENDPOINT,
    classifications.ENDPOINT,
    ocr.ENDPOINT,
    detections.ENDPOINT,
    transcriptions.ENDPOINT,
    transcriptions.TRANSLATIONS,
    speech.ENDPOINT,
    *images.ENDPOINTS,
    gemini.ENDPOINT,
)
