"""Log lines as text or as JSON objects (TOLLGATE_LOG_FORMAT), for the data plane, the worker and
the console.

In JSON each line is one object: `ts` (UTC, ISO 8601), `level`, `logger`, `message`, the fields a
caller passed as `extra={"fields": {...}}` (the data plane's request lines), and `exc` with the
traceback when there is one.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import orjson

from shared.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def formatter(settings: Settings) -> logging.Formatter:
    """The formatter `settings.log_format` asks for."""
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_worker(settings: Settings) -> None:
    """Every record of the process at INFO and above to stderr, in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _json_lines(name: str) -> None:
    """Records of `name` and below at INFO, one JSON object each on stderr (once per process)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def reformat(logger: logging.Logger) -> None:
    """Give the handlers a server configured for `logger` the JSON formatter."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def configure_dataplane(settings: Settings) -> None:
    """In JSON: Tollgate's records at INFO (request lines included) and uvicorn's, one object each.

    In text nothing changes: uvicorn configured its own loggers, and Tollgate's warnings reach
    stderr through logging's last-resort handler.
    """
    if settings.log_format != "json":
        return
    _json_lines("tollgate")
    for name in UVICORN_LOGGERS:
        reformat(logging.getLogger(name))


def configure_console(settings: Settings, app_logger: str) -> None:
    """In JSON: Tollgate's records and the Flask app's (`app_logger`), one object each.

    gunicorn's own lines are reformatted by the server's logger class (console/cli/serve.py). In
    text nothing changes.
    """
    if settings.log_format != "json":
        return
    for name in ("tollgate", app_logger):
        _json_lines(name)
