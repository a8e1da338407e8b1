"""After sign-in `next` is followed only to a same-site path; any way off-site falls back to the dashboard."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from console.redirects import is_same_site_path, safe_next
from shared.accounts import create_user
from tests.console.conftest import Console

PASSWORD = "correct horse battery"
EMAIL = "carol@example.com"

# Raw query strings, written as an attacker would put them in a link.
ATTACKS = [
    "/%09/evil.example",  # a tab: browsers drop it and see //evil.example
    "/%0A/evil.example",  # a newline: used to be a 500 after signing in
    "/%0D%0ASet-Cookie:%20x=1",
    "%2F%2Fevil.example",
    "//evil.example/x",
    "///evil.example",
    "/%5Cevil.example",  # a backslash: browsers read it as a slash
    "%5C%5Cevil.example",
    "/%2F/evil.example",  # decodes to //evil.example
    "/%252F/evil.example",  # twice encoded
    "/%2509/evil.example",
    "/%20/evil.example",
    "/%C2%A0/evil.example",  # no-break space
    "/%E2%80%8B/evil.example",  # zero-width space (a format character)
    "/%00",
    "/x%7F",
    "javascript:alert(1)",
    "JavaScript%3Aalert(1)",
    "http://evil.example/",
    "https:evil.example",
    "evil.example",
    "",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_offsite_or_malformed_next_falls_back_to_the_dashboard(web: Console, attack: str) -> None:
    create_user(EMAIL, PASSWORD)
    signed_in = web.post(f"/login?next={attack}", {"email": EMAIL, "password": PASSWORD})
    assert signed_in.status_code == 303
    assert signed_in.location == "/"
    assert web.get("/").status_code == 200


@pytest.mark.parametrize(
    "target", ["/usage", "/usage?model=acme%2Fchat&page=2", "/keys#new", "/operator/users"]
)
def test_same_site_paths_are_followed(web: Console, target: str) -> None:
    create_user(EMAIL, PASSWORD)
    signed_in = web.post(f"/login?next={quote(target, safe='')}", {"email": EMAIL, "password": PASSWORD})
    assert signed_in.status_code == 303 and signed_in.location == target


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n",
        "/\r\n/x",
        "/\\evil.example",
        "/a b",
        "/\u2028x",
        "/\x1b[0m",
        "//",
        "/" + "a" * 2001,
    ],
)
def test_characters_browsers_rewrite_are_refused(target: str) -> None:
    assert not is_same_site_path(target)
    assert safe_next(target, "/fallback") == "/fallback"


def test_no_target_falls_back() -> None:
    assert safe_next(None, "/fallback") == "/fallback"
    assert safe_next("/billing", "/fallback") == "/billing"
