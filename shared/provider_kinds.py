"""The kinds of upstream provider: one list for forms, CLI, validation, the probe and the data plane.

A kind says how to reach a provider of that kind (the path of its chat-like endpoint, how the
credential is sent, which fixed headers it needs) and which gateway endpoints it serves natively.
The data plane's adapters (dataplane/upstreams/) implement each kind and check at start-up that
they match this list; the console and the probe read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderKind:
    """One provider kind and its wire details."""

    name: str
    label: str
    # The path (under the provider's base URL, which ends in /v1) of the request a probe sends;
    # `{model}` in it stands for the upstream model (Gemini names the model in the path).
    probe_path: str
    # "bearer": `Authorization: Bearer <key>`; "x-api-key", "x-goog-api-key": that header with the key.
    # No key: no header.
    auth: str
    # Endpoints served as they are (no translation); everything else goes through chat completions.
    native: frozenset[str]
    fixed_headers: dict[str, str] = field(default_factory=dict)
    # False: the kind has no chat completions (a rerank service), so it takes only its native endpoints.
    chat: bool = True
    # The probe's body when it is not a chat completion's (the model is then named in `probe_path`).
    probe_json: dict[str, object] | None = None
    # The model list a probe reads while no route uses the provider (None: the kind has none).
    models_path: str | None = "/models"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The credential headers for `api_key` (none when the provider needs no key, as Ollama)."""
        # A key of blanks is no key: `Bearer ` with nothing after it is not even a valid header.
        api_key = api_key.strip()
        if not api_key:
            return {}
        if self.auth in ("x-api-key", "x-goog-api-key"):
            return {self.auth: api_key}
        return {"authorization": "Bearer " + api_key}

    def probe_body(self, model: str) -> dict[str, object]:
        """The smallest request that proves a route works: one output token (or one ranked document)."""
        if self.probe_json is not None:
            return dict(self.probe_json)
        if not self.chat:
            return {"model": model, "query": "ping", "documents": ["ping"], "top_n": 1}
        return {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}

    def probe_url(self, base_url: str, model: str) -> str:
        """The URL a probe of `model` posts to (a Gemini model may be written `models/<name>`)."""
        return base_url.rstrip("/") + self.probe_path.replace("{model}", model.removeprefix("models/"))


ANTHROPIC_VERSION = "2023-06-01"

KINDS: dict[str, ProviderKind] = {
    kind.name: kind
    for kind in (
        ProviderKind(
            "openai",
            "OpenAI, or compatible with the Responses API",
            "/chat/completions",
            "bearer",
            frozenset(
                {
                    "chat",
                    "embeddings",
                    "responses",
                    "completions",
                    "moderations",
                    "transcriptions",
                    "audio_translations",
                    "speech",
                    "images",
                    "image_edits",
                    "image_variations",
                }
            ),
        ),
        # Most OpenAI-compatible servers (vLLM, Ollama, DeepSeek, ...) have no /responses:
        # Responses requests reach them translated onto chat completions.
        ProviderKind(
            "openai-chat",
            "OpenAI-compatible, chat completions only",
            "/chat/completions",
            "bearer",
            frozenset({"chat", "embeddings", "completions", "rerank"}),
        ),
        ProviderKind(
            "anthropic",
            "Anthropic",
            "/messages",
            "x-api-key",
            frozenset({"messages"}),
            {"anthropic-version": ANTHROPIC_VERSION},
        ),
        # Rerank services: base URL https://api.cohere.com/v2 (Cohere's v2 API) or
        # https://api.jina.ai/v1; both answer POST {base}/rerank with a bearer key.
        ProviderKind(
            "cohere",
            "Cohere (rerank)",
            "/rerank",
            "bearer",
            frozenset({"rerank"}),
            chat=False,
            models_path=None,
        ),
        ProviderKind(
            "jina",
            "Jina AI (rerank)",
            "/rerank",
            "bearer",
            frozenset({"rerank"}),
            chat=False,
            models_path=None,
        ),
        # Google's Gemini API: base URL https://generativelanguage.googleapis.com/v1beta. Chat
        # completions are translated (dataplane/upstreams/gemini.py); Gemini-native clients and
        # embeddings (batchEmbedContents) are served by its own API.
        ProviderKind(
            "gemini",
            "Google Gemini",
            "/models/{model}:generateContent",
            "x-goog-api-key",
            frozenset({"gemini", "embeddings"}),
            probe_json={
                "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                "generationConfig": {"maxOutputTokens": 1},
            },
        ),
    )
}
KIND_NAMES = tuple(KINDS)
