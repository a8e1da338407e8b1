"""The worker's deposit-scanning job (registered in `shared/jobs.py`)."""

from __future__ import annotations

from shared.db import db
from shared.settings import Settings
from shared.tron.scanner import Scanner, ScanReport


def scan_deposits(settings: Settings) -> ScanReport:
    """One scanner run with its own database connection (the lease keeps it single)."""
    with db.connection_context():
        return Scanner(settings).run_once()
