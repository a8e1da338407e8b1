"""The web console (Flask): customers manage keys, usage and balance; operators run the gateway."""

from __future__ import annotations

import logging

from flask import Flask, current_app

from console import (
    auth,
    billing,
    catalog,
    dashboard,
    deposits,
    docs,
    errors,
    filters,
    groups,
    headers,
    i18n,
    keys,
    notices,
    overview,
    price_sync,
    prices,
    provider_import,
    providers,
    recovery,
    revenue,
    site,
    status,
    usage,
    users,
)
from console.extensions import csrf, login_manager
from shared import logs, throttle
from shared.db import db, init_db
from shared.settings import Settings
from shared.setup_token import ensure_setup_token

log = logging.getLogger("tollgate.console")

# Every blueprint the console serves. A feature adds its own with one line here.
BLUEPRINTS = [
    auth.bp,
    recovery.bp,
    dashboard.bp,
    overview.bp,
    keys.bp,
    usage.bp,
    billing.bp,
    catalog.bp,
    docs.bp,
    status.bp,
    users.bp,
    providers.bp,
    prices.bp,
    groups.bp,
    revenue.bp,
    deposits.bp,
    price_sync.bp,
    provider_import.bp,
    site.bp,
    notices.bp,
]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the console app for `settings` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    init_db(settings.database_url)
    app = Flask(__name__, template_folder="../templates")
    logs.configure_console(settings, app.logger.name)
    _configure(app, settings)
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.register(app)
    filters.register(app)
    errors.register(app)
    headers.register(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    _connect_per_request(app)
    app.context_processor(_template_globals)
    with db.connection_context():
        _announce_setup(settings)
    return app


def _configure(app: Flask, settings: Settings) -> None:
    public = settings.console_public_url or settings.public_base_url
    app.config.update(
        SECRET_KEY=str(settings.secret_key),
        TOLLGATE=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=public.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1024 * 1024,
        # Sign-in and forgot-password throttles (tests shrink the backoff).
        LOGIN_LIMITS=throttle.Limits(),
        RESET_LIMITS=recovery.FORGOT_LIMITS,
    )


def _connect_per_request(app: Flask) -> None:
    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()


def _template_globals() -> dict:
    settings: Settings = current_app.config["TOLLGATE"]
    return {
        "api_base_url": settings.public_base_url + "/v1",
        "has_endpoint": lambda name: name in current_app.view_functions,
    }


def _announce_setup(settings: Settings) -> None:
    """On a fresh install with no operator, print the one-time setup token in the log."""
    token = ensure_setup_token(settings.var_dir)
    if token:
        log.warning("No operator exists yet. Open /setup and enter this one-time token: %s", token)
