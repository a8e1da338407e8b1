"""The operator's site options (product name, logo, sign-ups, welcome credit, SMTP, banner),
kept in the `kv` table under "site.*".

The environment (shared/settings.py) gives the defaults; what the operator saves on the console's
Settings page overrides them. Every process reads the options when it needs them. The SMTP
password is stored encrypted with the deployment's secret key (shared/vault.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass, fields, replace
from email.utils import formataddr, parseaddr

from PIL import Image, UnidentifiedImageError

from shared import vault
from shared.accounts import DEFAULT_GROUP, EMAIL_RE
from shared.db import write_transaction
from shared.errors import InvalidInput
from shared.mail import Mailer, mailer_from
from shared.models import Group, KeyValue
from shared.money import NANO_PER_USD
from shared.settings import Secret, Settings

PREFIX = "site."
LOGO_KEY = "site_logo"  # apart from the options: read only when the logo itself is asked for
SIGNUP_MODES = ("open", "invite", "closed")
TLS_MODES = ("starttls", "tls", "none")
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_SIDE = 2048
MAX_CREDIT = 1_000_000 * NANO_PER_USD  # a million USD: anything above is a typo
MAX_NAME = 60
MAX_ANNOUNCEMENT = 500
CACHE_TTL_S = 5.0  # how late another process may see a change


@dataclass(frozen=True)
class SiteOptions:
    """What the operator set (defaults where nothing was saved).

    The SMTP password stays encrypted here (`mailer` decrypts it), so that reading the options for
    a page needs no secret key.
    """

    product_name: str = "Tollgate"
    announcement: str = ""
    signups: str = "open"  # open | invite | closed
    default_group: str = DEFAULT_GROUP
    welcome_credit: int = 0  # nano-USD granted at sign-up
    low_balance: int = NANO_PER_USD  # nano-USD; customers below it are listed, and warned by mail
    logo_version: str = ""  # digest of the uploaded logo; "" when there is none
    smtp_host: str = ""  # "" keeps TOLLGATE_SMTP_URL
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""  # encrypted
    smtp_from: str = ""
    smtp_tls: str = "starttls"  # starttls (upgrade when offered) | tls (from the first byte) | none


INT_FIELDS = ("welcome_credit", "low_balance", "smtp_port")
EDITABLE = tuple(f.name for f in fields(SiteOptions) if f.name != "logo_version")


@dataclass(frozen=True)
class Logo:
    """An uploaded logo: its bytes, content type and digest (the URL's cache key)."""

    data: bytes
    content_type: str
    version: str


def load() -> SiteOptions:
    """The options, in one query."""
    values: dict[str, object] = {}
    for row in KeyValue.select().where(KeyValue.key.startswith(PREFIX)):
        name = row.key[len(PREFIX) :]
        if name in INT_FIELDS:
            values[name] = int(row.value)
        elif name in EDITABLE or name == "logo_version":
            values[name] = row.value
    return replace(SiteOptions(), **values)


class Changes:
    """How many times this process changed the options: a cache here reloads when it moves."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


CHANGES = Changes()


class OptionsCache:
    """The options as this process last read them, kept for `ttl_s` seconds.

    Pages show the options on every request; reading them once per request would be one more
    query on every page. A change made in this process is seen at once (CHANGES), one made by
    another process within `ttl_s`.
    """

    def __init__(self, ttl_s: float = CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._kept: tuple[int, float, SiteOptions] | None = None

    def get(self) -> SiteOptions:
        """The cached options, read again when stale (DatabaseError from `load` goes to the caller)."""
        with self._lock:
            kept, now, changes = self._kept, time.monotonic(), CHANGES.count
            if kept is not None and kept[0] == changes and now - kept[1] < self.ttl_s:
                return kept[2]
            options = load()
            self._kept = (changes, now, options)
            return options


def update(changes: dict[str, object], secret_key: Secret) -> SiteOptions:
    """Check and store some options at once; raises InvalidInput naming the bad one."""
    clean = {name: _checked(name, value) for name, value in changes.items()}
    with write_transaction():
        for name, value in clean.items():
            stored = vault.encrypt(value, secret_key) if name == "smtp_password" else value
            _put(PREFIX + name, stored)
    CHANGES.bump()
    return load()


def _put(key: str, value: str) -> None:
    KeyValue.insert(key=key, value=value).on_conflict(
        conflict_target=[KeyValue.key], update={KeyValue.value: value}
    ).execute()


def _checked(name: str, value: object) -> str:
    if name not in EDITABLE:
        raise InvalidInput(name, f"unknown option; known: {', '.join(EDITABLE)}")
    if name in INT_FIELDS:
        return str(_checked_int(name, value))
    text = str(value).strip()
    checks = {
        "product_name": lambda: _bounded(name, text, 1, MAX_NAME),
        "announcement": lambda: _bounded(name, " ".join(text.split()), 0, MAX_ANNOUNCEMENT),
        "signups": lambda: _one_of(name, text, SIGNUP_MODES),
        "smtp_tls": lambda: _one_of(name, text, TLS_MODES),
        "default_group": lambda: _group(text),
        "smtp_from": lambda: _address(text),
        "smtp_host": lambda: _bounded(name, text, 0, 253),
    }
    return checks[name]() if name in checks else _bounded(name, text, 0, 254)


def _checked_int(name: str, value: object) -> int:
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidInput(name, "must be a whole number") from exc
    low, high = (1, 65_535) if name == "smtp_port" else (0, MAX_CREDIT)
    if not low <= number <= high:
        raise InvalidInput(name, f"must be from {low} to {high}")
    return number


def _bounded(name: str, text: str, shortest: int, longest: int) -> str:
    if not shortest <= len(text) <= longest:
        raise InvalidInput(name, f"must be {shortest} to {longest} characters")
    return text


def _one_of(name: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise InvalidInput(name, f"must be one of {', '.join(choices)}")
    return text


def _group(name: str) -> str:
    if name != DEFAULT_GROUP and not Group.select().where(Group.name == name).exists():
        raise InvalidInput("default_group", f"there is no group called {name!r}")
    return name


def _address(text: str) -> str:
    if text and not EMAIL_RE.match(parseaddr(text)[1]):
        raise InvalidInput("smtp_from", "must be an email address, like billing@example.com")
    return text


def mailer(options: SiteOptions, settings: Settings) -> Mailer | None:
    """Who sends mail: the page's SMTP server when one is set, else TOLLGATE_SMTP_URL (or None).

    The sender shows the product name, so customers see whose mail it is. Raises VaultError when
    the stored password cannot be decrypted (the secret key changed).
    """
    env = mailer_from(settings)
    if options.smtp_host:
        found = Mailer(
            host=options.smtp_host,
            port=options.smtp_port,
            tls=options.smtp_tls == "tls",
            username=options.smtp_user,
            password=Secret(vault.decrypt(options.smtp_password, settings.secret_key)),
            sender=options.smtp_from or settings.mail_from,
            starttls=options.smtp_tls == "starttls",
        )
    elif env is not None:
        found = env
    else:
        return None
    name, address = parseaddr(found.sender)
    return replace(found, sender=formataddr((name or options.product_name, address)))


def checked_logo(data: bytes) -> Logo:
    """`data` as a logo if it is a PNG, JPEG, GIF or WebP image within the size limits."""
    if not data:
        raise InvalidInput("logo", "choose an image file")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput("logo", f"must be at most {MAX_LOGO_BYTES // 1024} KB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput("logo", "is not a PNG, JPEG, GIF or WebP image") from exc
    if kind not in LOGO_TYPES:
        raise InvalidInput("logo", "must be a PNG, JPEG, GIF or WebP image")
    if max(width, height) > MAX_LOGO_SIDE:
        raise InvalidInput("logo", f"must be at most {MAX_LOGO_SIDE} pixels on each side")
    return Logo(data, LOGO_TYPES[kind], hashlib.sha256(data).hexdigest()[:16])


def set_logo(data: bytes) -> Logo:
    """Check and store a new logo (replacing the old one)."""
    logo = checked_logo(data)
    stored = json.dumps({"type": logo.content_type, "data": base64.b64encode(data).decode("ascii")})
    with write_transaction():
        _put(LOGO_KEY, stored)
        _put(PREFIX + "logo_version", logo.version)
    CHANGES.bump()
    return logo


def clear_logo() -> None:
    """Remove the logo; pages show the product name alone."""
    with write_transaction():
        KeyValue.delete().where(KeyValue.key.in_([LOGO_KEY, PREFIX + "logo_version"])).execute()
    CHANGES.bump()


def logo() -> Logo | None:
    """The stored logo, or None."""
    row = KeyValue.get_or_none(KeyValue.key == LOGO_KEY)
    if row is None:
        return None
    stored = json.loads(row.value)
    data = base64.b64decode(stored["data"])
    return Logo(data, stored["type"], hashlib.sha256(data).hexdigest()[:16])


def product_name() -> str:
    """Just the product name (mail texts need no more, and no secret key)."""
    row = KeyValue.get_or_none(KeyValue.key == PREFIX + "product_name")
    return row.value if row else SiteOptions.product_name


def low_balance_default() -> int:
    """The low-balance threshold of customers who did not choose their own (nano-USD)."""
    row = KeyValue.get_or_none(KeyValue.key == PREFIX + "low_balance")
    return int(row.value) if row else SiteOptions.low_balance
