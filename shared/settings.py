"""Tollgate's configuration, read once from the environment into a frozen object.

Every process builds one `Settings` at start-up (`Settings.from_env()`); tests build their own
with `Settings.for_tests(...)` or `dataclasses.replace`. No other module reads the environment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

NANO_PER_USD = 1_000_000_000
LOG_FORMATS = ("text", "json")


class Secret:
    """A string that does not show itself in reprs, logs or tracebacks."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _env_count(name: str, default: int) -> int:
    """An integer that may be 0 but not negative."""
    value = _env_int(name, default)
    if value < 0:
        raise SystemExit(f"{name} must be 0 or more, got {value}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of a few words, in any case."""
    value = _env(name, default).lower()
    if value not in choices:
        raise SystemExit(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _env_smtp_url() -> Secret | None:
    """TOLLGATE_SMTP_URL (smtp://user:pass@host:port or smtps://…), checked but kept secret."""
    raw = _env("TOLLGATE_SMTP_URL", "")
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        valid = parts.scheme in ("smtp", "smtps") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise SystemExit("TOLLGATE_SMTP_URL must look like smtp://user:password@host:587 (or smtps://)")
    return Secret(raw)


def _load_or_create_secret(var_dir: Path) -> str:
    """Return the secret key stored under var/, creating it (mode 0600) on first run."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a Tollgate process needs to know about its environment."""

    database_url: str
    secret_key: Secret
    var_dir: Path = Path("var")
    redis_url: str | None = None
    # Prefix of every Redis key Tollgate writes (several installations, or tests, can share a Redis).
    redis_prefix: str = "tollgate:"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    console_host: str = "127.0.0.1"
    console_port: int = 8001
    # Where browsers reach the console; its https:// scheme marks the session cookie Secure.
    console_public_url: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    key_prefix: str = "sk-tg-"
    # Data plane behaviour.
    max_body_bytes: int = 20 * 1024 * 1024
    # Multipart uploads: audio to transcribe or translate, images to edit or vary.
    max_audio_upload_bytes: int = 25 * 1024 * 1024
    max_image_upload_bytes: int = 50 * 1024 * 1024
    # How long a TCP connect to a provider may take, apart from the provider's (read) timeout.
    upstream_connect_timeout_s: float = 3.0
    keepalive_interval_s: float = 15.0
    default_max_output_tokens: int = 4096
    min_reply_tokens: int = 16
    config_poll_interval_s: float = 1.0
    provider_failure_threshold: int = 3
    provider_cooldown_s: float = 30.0
    # Billing: a data-plane process reserves balance in leases of about this size (nano-USD).
    lease_chunk_nano: int = 200_000_000
    # A lease not renewed for this long is given back by the worker; a process stops carving
    # from a lease it could not renew well before then (dataplane/leases.py).
    lease_ttl_s: float = 30.0
    lease_idle_release_s: float = 10.0
    # How long the settlement writer gathers finished requests into one transaction. A commit has
    # a fixed cost (about 0.45 ms on SQLite): at 0.05 s and 2,000 req/s it is shared by 100 rows,
    # a row's SQLite work 36 us instead of 60 us at 0.02 s (bench/). Usage records show up that
    # much later; the journal, not the batch, is what survives a crash.
    settle_flush_interval_s: float = 0.05
    # Where each data-plane process journals its requests until they are settled (None: var/journal).
    journal_dir: Path | None = None
    # Responses API: days a response delivered with `store` is kept; 0 keeps nothing (as if every
    # request said `store: false`). TOLLGATE_RESPONSE_RETENTION_DAYS below 0 stops start-up.
    response_retention_days: int = 30
    # TRON deposits (the rest of their settings live in the database, edited by operators).
    tron_scan_interval_s: float = 30.0
    tron_node_timeout_s: float = 10.0
    # Seconds between two price syncs of the worker (shared/pricing/sync.py).
    price_sync_interval_s: float = 3600.0
    # Outgoing mail for password-reset links (None: no mail; operators hand out links instead).
    # Links are only mailed when console_public_url is set too: a link built from the request's
    # Host header could point at a host an attacker chose.
    smtp_url: Secret | None = None
    mail_from: str = "tollgate@localhost"
    # /metrics of the data plane: with a token, any client that sends it as a bearer; without,
    # loopback clients only (dataplane/exposition.py).
    metrics_token: Secret | None = None
    # /metrics of the worker (shared/worker_metrics.py), same access rule; port 0: not served.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 8002
    # "text" (one human line a record) or "json" (one object a line: shared/logs.py).
    log_format: str = "text"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def journals(self) -> Path:
        """The directory of the data planes' journals."""
        return self.journal_dir or self.var_dir / "journal"

    @classmethod
    def from_env(cls) -> Settings:
        """Read TOLLGATE_* variables (and DATABASE_URL, REDIS_URL) once."""
        var_dir = Path(_env("TOLLGATE_VAR_DIR", "var")).resolve()
        database_url = _env("DATABASE_URL", f"sqlite:///{var_dir / 'tollgate.db'}")
        secret = _env("TOLLGATE_SECRET_KEY", "") or _load_or_create_secret(var_dir)
        api_port = _env_int("TOLLGATE_API_PORT", 8000)
        api_host = _env("TOLLGATE_API_HOST", "127.0.0.1")
        return cls(
            database_url=database_url,
            secret_key=Secret(secret),
            var_dir=var_dir,
            redis_url=_env("REDIS_URL", "") or None,
            redis_prefix=_env("TOLLGATE_REDIS_PREFIX", "tollgate:"),
            api_host=api_host,
            api_port=api_port,
            console_host=_env("TOLLGATE_CONSOLE_HOST", "127.0.0.1"),
            console_port=_env_int("TOLLGATE_CONSOLE_PORT", 8001),
            console_public_url=_env("TOLLGATE_CONSOLE_PUBLIC_URL", "").rstrip("/"),
            public_base_url=_env("TOLLGATE_PUBLIC_BASE_URL", f"http://{api_host}:{api_port}").rstrip("/"),
            key_prefix=_env("TOLLGATE_KEY_PREFIX", "sk-tg-"),
            max_body_bytes=_env_int("TOLLGATE_MAX_BODY_BYTES", 20 * 1024 * 1024),
            max_audio_upload_bytes=_env_int("TOLLGATE_MAX_AUDIO_UPLOAD_BYTES", 25 * 1024 * 1024),
            max_image_upload_bytes=_env_int("TOLLGATE_MAX_IMAGE_UPLOAD_BYTES", 50 * 1024 * 1024),
            keepalive_interval_s=_env_float("TOLLGATE_KEEPALIVE_S", 15.0),
            default_max_output_tokens=_env_int("TOLLGATE_DEFAULT_MAX_OUTPUT_TOKENS", 4096),
            provider_cooldown_s=_env_float("TOLLGATE_PROVIDER_COOLDOWN_S", 30.0),
            upstream_connect_timeout_s=_env_float("TOLLGATE_UPSTREAM_CONNECT_TIMEOUT_S", 3.0),
            lease_chunk_nano=_env_int("TOLLGATE_LEASE_CHUNK_NANO", 200_000_000),
            lease_ttl_s=_env_float("TOLLGATE_LEASE_TTL_S", 30.0),
            settle_flush_interval_s=_env_float("TOLLGATE_SETTLE_FLUSH_INTERVAL_S", 0.05),
            journal_dir=Path(_env("TOLLGATE_JOURNAL_DIR", str(var_dir / "journal"))).resolve(),
            response_retention_days=_env_count("TOLLGATE_RESPONSE_RETENTION_DAYS", 30),
            tron_scan_interval_s=_env_float("TOLLGATE_TRON_SCAN_INTERVAL_S", 30.0),
            tron_node_timeout_s=_env_float("TOLLGATE_TRON_NODE_TIMEOUT_S", 10.0),
            price_sync_interval_s=_env_float("TOLLGATE_PRICE_SYNC_INTERVAL_S", 3600.0),
            smtp_url=_env_smtp_url(),
            mail_from=_env("TOLLGATE_MAIL_FROM", "tollgate@localhost"),
            metrics_token=Secret(token) if (token := _env("TOLLGATE_METRICS_TOKEN", "")) else None,
            worker_metrics_host=_env("TOLLGATE_WORKER_METRICS_HOST", "127.0.0.1"),
            worker_metrics_port=_env_count("TOLLGATE_WORKER_METRICS_PORT", 8002),
            log_format=_env_choice("TOLLGATE_LOG_FORMAT", "text", LOG_FORMATS),
        )


def read_tron_mnemonic() -> Secret | None:
    """The sweeper's mnemonic from TOLLGATE_TRON_MNEMONIC, read only by `tollgate tron sweep`.

    It is deliberately not part of `Settings`, so the console, data plane and worker never hold it.
    """
    value = _env("TOLLGATE_TRON_MNEMONIC", "")
    return Secret(value) if value else None
