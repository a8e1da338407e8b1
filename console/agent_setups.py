"""The Docs page's setup wizard: every agent, IDE and library it walks through, as data.

Each setup names its template (templates/docs/tools/<name>.html: the numbered steps and the
config filled in), the gateway API it calls (the wire "Test my key" uses, so the test call is
the kind of call the tool will make), and what a model needs to work with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from shared.models import CatalogModel


@dataclass(frozen=True)
class Setup:
    """One tool the wizard can set up."""

    name: str  # the ?tool= value and the template's name
    label: str
    group: str  # the heading it is listed under (a lazy string, in the visitor's language)
    wire: str  # "chat", "messages" or "responses" (console/key_probe.py WIRES)
    modalities: tuple[str, ...] = ("chat",)
    # Capabilities a model must not lack: a model that states its capabilities without these is
    # left out (agents drive their work through tool calls); one that states none is offered.
    needs: tuple[str, ...] = ()

    @property
    def template(self) -> str:
        return f"docs/tools/{self.name}.html"

    def accepts(self, model: CatalogModel) -> bool:
        """True if `model` is of a modality this tool calls and has the capabilities it needs."""
        stated = model.capabilities
        lacking = stated is not None and not set(self.needs) <= set(stated)
        return model.modality in self.modalities and not lacking


AGENTS, IDES, LIBRARIES = _l("Coding agents"), _l("IDEs and editors"), _l("SDKs and libraries")
TOOLS = ("tools",)

SETUPS: tuple[Setup, ...] = (
    Setup("claude-code", "Claude Code", AGENTS, "messages", needs=TOOLS),
    Setup("codex", "Codex CLI", AGENTS, "responses", needs=TOOLS),
    Setup("opencode", "OpenCode", AGENTS, "chat", needs=TOOLS),
    Setup("aider", "Aider", AGENTS, "chat"),
    Setup("cursor", "Cursor", IDES, "chat"),
    Setup("cline", "Cline", IDES, "chat"),
    Setup("roo-code", "Roo Code", IDES, "chat"),
    Setup("continue", "Continue", IDES, "chat"),
    Setup("zed", "Zed", IDES, "chat"),
    Setup("openai-python", "OpenAI SDK (Python)", LIBRARIES, "chat"),
    Setup("openai-node", "OpenAI SDK (Node)", LIBRARIES, "chat"),
    Setup("anthropic-python", "Anthropic SDK (Python)", LIBRARIES, "messages"),
    Setup("langchain", "LangChain", LIBRARIES, "chat"),
    Setup("vercel-ai", "Vercel AI SDK", LIBRARIES, "chat"),
    Setup("curl", "curl", LIBRARIES, "chat"),
)
BY_NAME = {setup.name: setup for setup in SETUPS}
DEFAULT = SETUPS[0]


def setup_named(name: str | None) -> Setup:
    """The setup `?tool=` names, or the first one for a missing or unknown name."""
    return BY_NAME.get(name or "", DEFAULT)


def groups() -> list[tuple[str, list[Setup]]]:
    """The setups under their headings, in the order above."""
    headings = list(dict.fromkeys(setup.group for setup in SETUPS))
    return [(heading, [s for s in SETUPS if s.group == heading]) for heading in headings]


def usable(setup: Setup, models: Sequence[CatalogModel]) -> list[CatalogModel]:
    """The models among `models` that `setup` can call, in their order."""
    return [m for m in models if setup.accepts(m)]


def chosen(options: Sequence[CatalogModel], wanted: str) -> CatalogModel | None:
    """`wanted` if it is among `options`, else the first option (None when there is none)."""
    return next((m for m in options if m.slug == wanted), options[0] if options else None)


def cheapest(options: Sequence[CatalogModel]) -> CatalogModel | None:
    """The option with the lowest input plus output token price: the tool's small, fast model."""
    return min(options, key=lambda m: (m.input_price + m.output_price, m.slug), default=None)
