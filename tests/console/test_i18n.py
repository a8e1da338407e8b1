"""The console in English and Vietnamese: the language chosen, remembered, and every string translated."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from jinja2 import Environment

from shared.billing import post_entry
from shared.models import User
from tests.console.conftest import Console, text
from tests.console.i18n_check import untranslated

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "console" / "translations"
VI_PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
# The pages translated so far; each one added here is checked word by word.
TRANSLATED = [
    "base.html", "_balance.html", "_macros.html", "errors/_alert.html", "errors/page.html",
    "dashboard/index.html", "keys/_created.html", "keys/_panel.html", "keys/_row.html", "keys/_table.html",
    "keys/edit.html", "keys/index.html", "usage/_filters.html", "usage/_rows.html", "usage/_table.html",
    "usage/index.html", "billing/_tabs.html", "billing/index.html", "billing/_ledger.html",
    "catalog/index.html", "catalog/_table.html", "catalog/detail.html", "_meters.html",
    "deposits/index.html", "deposits/_table.html", "status/index.html", "status/_panel.html",
    "auth/forgot.html", "auth/login.html", "auth/password.html", "auth/reset.html", "auth/setup.html",
    "auth/signup.html", "auth/signup_closed.html", "docs/_body.html", "docs/_key_test.html",
    "docs/_setup.html", "docs/_snippet.html", "docs/index.html", "docs/sections/audio.html",
    "docs/sections/chat.html", "docs/sections/embedding.html", "docs/sections/image.html",
    "docs/sections/moderation.html", "docs/sections/rerank.html", "docs/sections/streaming.html",
    "docs/tools/aider.html", "docs/tools/anthropic-python.html", "docs/tools/claude-code.html",
    "docs/tools/cline.html", "docs/tools/codex.html", "docs/tools/continue.html", "docs/tools/curl.html",
    "docs/tools/cursor.html", "docs/tools/langchain.html", "docs/tools/openai-node.html",
    "docs/tools/openai-python.html", "docs/tools/opencode.html", "docs/tools/roo-code.html",
    "docs/tools/vercel-ai.html", "docs/tools/zed.html",
]  # fmt: skip
VI = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}


def vietnamese() -> dict:
    """The Vietnamese catalogue: msgid → msgstr (tuples for plurals)."""
    with VI_PO.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def extracted() -> set:
    """Every msgid the templates and console code pass through gettext."""
    with (TRANSLATIONS / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    return {msgid for _, _, msgid, _, _ in found}


@pytest.mark.parametrize("name", TRANSLATED)
def test_translated_pages_show_no_text_outside_the_catalogues(name: str) -> None:
    env = Environment(extensions=["jinja2.ext.i18n"])
    assert untranslated(env, name) == []


def test_the_check_finds_text_left_out_of_the_catalogues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<h1>{{ _("Usage") }}</h1><p title="Left out">{{ n }} requests</p><script>let x = "code";</script>'
        '<code>curl</code><button hx-confirm="{{ _(\'Sure?\') }}">{{ _("Revoke") }}</button>'
    )
    monkeypatch.setattr("tests.console.i18n_check.TEMPLATES", tmp_path)
    assert untranslated(Environment(extensions=["jinja2.ext.i18n"]), "page.html") == ["Left out", "requests"]


def test_every_message_has_a_vietnamese_translation() -> None:
    catalogue = vietnamese()
    missing = sorted(str(m) for m in extracted() if not catalogue.get(m if isinstance(m, str) else m))
    assert missing == []
    for msgid, msgstr in catalogue.items():
        if isinstance(msgid, str) and "%(" in msgid:  # the same placeholders, or formatting fails
            assert sorted(_names(msgid)) == sorted(_names(msgstr)), msgid


def _names(template: str) -> list[str]:
    return [part.split(")")[0] for part in template.split("%(")[1:]]


def test_the_compiled_catalogue_is_the_one_of_its_source() -> None:
    with VI_PO.open("rb") as fh:
        catalogue = read_po(fh)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    assert VI_PO.with_suffix(".mo").read_bytes() == compiled.getvalue(), "run pybabel compile"


def test_the_browser_language_picks_vietnamese_with_its_money(web: Console, customer: User) -> None:
    post_entry(customer.id, 1_234_560_000_000, "deposit", "dep:vi", reason="deposit")
    web.login_as(customer)
    body = text(web.get("/", headers=VI))
    assert "<h1>Bảng điều khiển</h1>" in body and "Chi tiêu hôm nay" in body
    assert "1.234,56 US$" in body and "$1,234.56" not in body
    english = text(web.get("/"))
    assert "<h1>Dashboard</h1>" in english and "$1,234.56" in english


def test_the_chosen_language_is_remembered_over_the_browsers(web: Console, customer: User) -> None:
    web.login_as(customer)
    chosen = web.post("/language", {"language": "vi", "next": "/keys"})
    assert (chosen.status_code, chosen.location) == (303, "/keys")
    assert "<h1>Khóa API</h1>" in text(web.get("/keys", headers={"Accept-Language": "en"}))
    web.post("/language", {"language": "en", "next": "/keys"})
    assert "<h1>API keys</h1>" in text(web.get("/keys", headers=VI))


def test_the_switch_ignores_an_unknown_language_and_a_foreign_next(web: Console, app: Flask) -> None:
    answer = web.post("/language", {"language": "xx", "next": "//evil.example/"})
    assert (answer.status_code, answer.location) == (303, "/")
    assert "lang=" not in answer.headers.get("Set-Cookie", "")
    refused = web.client.post("/language", data={"language": "vi"})  # no CSRF token
    assert refused.status_code == 400


def test_the_deposit_tab_in_vietnamese(web: Console, customer: User) -> None:
    web.login_as(customer)
    body = text(web.get("/billing/deposit", headers=VI))  # no TRON settings yet on this gateway
    assert "Cổng này chưa hỗ trợ nạp tiền. Hãy hỏi quản trị viên." in body and "<h2>Nạp tiền</h2>" in body
    assert "Deposits are not available" not in body
