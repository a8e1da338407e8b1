"""The web console (Flask). Placeholder until the console issue lands: a page that says where things are."""

from __future__ import annotations

from flask import Flask

from shared.db import db, init_db
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the console app for `settings` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    init_db(settings.database_url)
    app = Flask(__name__, template_folder="../templates")
    app.config["SECRET_KEY"] = str(settings.secret_key)
    app.config["TOLLGATE"] = settings

    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()

    @app.get("/")
    def index() -> str:
        return (
            "<h1>Tollgate</h1><p>The console is coming. The API is at "
            f"<code>{settings.public_base_url}/v1</code>.</p>"
        )

    return app
