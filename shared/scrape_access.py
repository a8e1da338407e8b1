"""Who may scrape a Tollgate process's /metrics (the data plane's and the worker's alike).

Metrics are for the operator's Prometheus, not for customers: with TOLLGATE_METRICS_TOKEN set, any
client sending it as a bearer token may scrape; without one, loopback clients only.
"""

from __future__ import annotations

import hmac
import ipaddress

from shared.settings import Secret

FORBIDDEN = (
    "Metrics are for the operator: send TOLLGATE_METRICS_TOKEN as a bearer token"
    " (or scrape from this host when no token is set)."
)


def is_loopback(host: str) -> bool:
    """Whether a client address is this host's own (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_scrape(client_host: str, authorization: str, token: Secret | None) -> bool:
    """The access rule, given the client's address and its Authorization header ("" if none)."""
    if token is None:
        return is_loopback(client_host)
    sent = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(sent.encode(), str(token).encode())
