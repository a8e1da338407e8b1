"""Languages of the console: English and Vietnamese, with Flask-Babel.

The language is, in order: the one the visitor chose with the header's switch (a cookie, kept a
year), else the best match of the browser's Accept-Language, else English. The catalogues live
in console/translations/<lang>/LC_MESSAGES/messages.po; the compiled .mo beside each is
committed (tests/console/test_i18n.py checks that it matches its .po).

Lazy strings (`lazy_gettext`, for labels built at import) render without escaping in Jinja
(flask-babel's LazyString has `__html__`), so they never carry user input: a message that names
what someone typed is translated when it is raised, with `gettext`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, request
from flask_babel import Babel, get_locale

from console.redirects import safe_next

LANGUAGES = {"en": "English", "vi": "Tiếng Việt"}
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)
babel = Babel()


def select_language() -> str:
    """The language of this request (see the module's docstring)."""
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES.keys()) or DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of this request, as a key of LANGUAGES."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


@bp.post("/language")
def choose() -> Response:
    """Remember the language picked in the header, then go back where the visitor was."""
    language = request.form.get("language", "")
    back = redirect(safe_next(request.form.get("next"), "/"), code=303)
    if language in LANGUAGES:
        back.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Lax")
    return back


def _template_globals() -> dict:
    return {"languages": LANGUAGES, "current_language": current_language()}


def register(app: Flask) -> None:
    """Translate the app's templates, forms and messages; serve the language switch."""
    babel.init_app(app, locale_selector=select_language)
    app.register_blueprint(bp)
    app.context_processor(_template_globals)
