"""Find the words a template shows that do not pass through the translation catalogues.

Text outside `{{ _("…") }}` and `{% trans %}` is Jinja's TemplateData: with tags, scripts,
styles and code samples taken away, any word left is shown to people untranslated. So are the
attributes people read or hear (placeholder, title, aria-label, alt, the confirm dialogs).
A `{% set %}` block passed to `snippet()` (templates/docs/_snippet.html) is a code sample, shown
in <pre><code>, so it is left out too.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from jinja2 import Environment, nodes

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
HIDDEN = re.compile(r"<(script|style|code|pre|svg)\b.*?</\1>", re.S | re.I)
READ_ATTRIBUTES = re.compile(
    r"""\b(?:placeholder|title|aria-label|alt|hx-confirm|data-confirm)\s*=\s*(["'])(.*?)\1""", re.S
)
TAG = re.compile(r"<[^>]*>", re.S)
# Stands for what Jinja writes between two pieces of literal text (an expression, a block).
SLOT = "\x00"
WORD = re.compile(r"[A-Za-z]{2,}")
# Names that read the same in every language the console speaks.
SAME_IN_EVERY_LANGUAGE = {
    "API", "URL", "USD", "USDT", "UTC", "CSV", "JSON", "TRON", "TRC", "SDK", "SMTP", "TLS", "HTTP", "HTTPS",
    "ID", "OK", "RPM", "TPM", "TRX", "Tollgate", "OpenAI", "Anthropic", "Gemini", "Claude", "Codex",
    "txid", "intl", "cn", "UTF", "SVG", "PNG", "JPEG", "min", "ms", "px", "Redis",
}  # fmt: skip


def template_names() -> list[str]:
    """Every console template, relative to templates/."""
    return sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))


def _visible(text: str) -> list[str]:
    """What of a template's literal text people read: its text outside tags and its read attributes."""
    shown = [value for _, value in READ_ATTRIBUTES.findall(text)]
    outside = TAG.sub(SLOT, HIDDEN.sub(SLOT, text))
    shown += html.unescape(outside).split(SLOT)
    return shown


def _code_samples(tree: nodes.Template) -> set[int]:
    """The ids of the TemplateData nodes inside `{% set %}` blocks the template shows with `snippet()`."""
    shown = {
        call.args[2].name
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name == "snippet"
        and len(call.args) == 3 and isinstance(call.args[2], nodes.Name)
    }  # fmt: skip
    blocks = [b for b in tree.find_all(nodes.AssignBlock) if getattr(b.target, "name", None) in shown]
    return {id(data) for block in blocks for data in block.find_all(nodes.TemplateData)}


def untranslated(env: Environment, name: str) -> list[str]:
    """The pieces of text of template `name` that no catalogue translates."""
    tree = env.parse((TEMPLATES / name).read_text())
    code = _code_samples(tree)
    literal = SLOT.join(data.data for data in tree.find_all(nodes.TemplateData) if id(data) not in code)
    found = []
    for text in _visible(literal):
        if [w for w in WORD.findall(text) if w not in SAME_IN_EVERY_LANGUAGE]:
            found.append(" ".join(text.split()))
    return found
