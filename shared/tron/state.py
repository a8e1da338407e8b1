"""The scanner's state per network, kept as one JSON document in the `kv` table.

It holds the cursor (the last solid block fully processed), the heights last seen, the outcome
of the last run and the back-off after failures. Only the lease holder writes it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from shared.db import write_transaction
from shared.models import KeyValue

BACKOFF_BASE_S = 15.0
BACKOFF_MAX_S = 900.0
# The scanner runs about every 30 s: no success for this long means deposits wait to be credited.
STALE_AFTER = dt.timedelta(minutes=5)


@dataclass
class ScannerState:
    """What the scanner knows between runs (times are naive UTC ISO strings)."""

    cursor: int | None = None
    head_seen: int = 0
    solid_seen: int = 0
    last_run: str = ""
    last_ok: str = ""
    last_error: str = ""
    failures: int = 0
    total_failures: int = 0
    backoff_until: str = ""
    node_ok: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def succeeded(self, now: dt.datetime) -> None:
        """A run finished without a node error."""
        self.last_run = self.last_ok = now.isoformat()
        self.failures, self.backoff_until, self.node_ok, self.last_error = 0, "", True, ""

    def failed(self, now: dt.datetime, error: str, rate_limited: bool = False) -> None:
        """A node call failed: remember why and back off exponentially."""
        self.last_run, self.last_error, self.node_ok = now.isoformat(), error[:500], False
        self.failures += 1
        self.total_failures += 1
        delay = min(BACKOFF_BASE_S * 2 ** (self.failures - 1 + int(rate_limited)), BACKOFF_MAX_S)
        self.backoff_until = (now + dt.timedelta(seconds=delay)).isoformat()

    def lag(self, now: dt.datetime) -> dt.timedelta | None:
        """How long ago the last run succeeded (None before the first success)."""
        return now - dt.datetime.fromisoformat(self.last_ok) if self.last_ok else None

    def delayed(self, now: dt.datetime) -> bool:
        """Whether crediting lags behind the chain: the node is failing, or no recent run succeeded."""
        lag = self.lag(now)
        return self.failures > 0 or lag is None or lag > STALE_AFTER

    def backing_off(self, now: dt.datetime) -> bool:
        """True while the back-off after the last failure lasts."""
        return bool(self.backoff_until) and now < dt.datetime.fromisoformat(self.backoff_until)


def _key(network: str) -> str:
    return f"tron_scanner.{network}"


def load_state(network: str) -> ScannerState:
    """The scanner's state for `network` (a fresh one before the first run)."""
    row = KeyValue.get_or_none(KeyValue.key == _key(network))
    return ScannerState(**json.loads(row.value)) if row else ScannerState()


def save_state(network: str, state: ScannerState) -> None:
    """Store the state (the scanner calls this after every block)."""
    value = json.dumps(asdict(state), sort_keys=True)
    with write_transaction():
        KeyValue.insert(key=_key(network), value=value).on_conflict(
            conflict_target=[KeyValue.key], update={KeyValue.value: value}
        ).execute()
