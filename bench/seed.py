"""A throw-away database for one benchmark run, seeded through the shared services.

One provider pointing at the fake upstream, one priced model routed to it, one customer with a
large balance and one API key: exactly what an operator would set up with the console or CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.upstream import COMPLETION_TOKENS, PROMPT_TOKENS
from shared import accounts, billing, catalog
from shared.db import db, init_db
from shared.migrations import upgrade
from shared.money import Prices, TokenUsage, price_of
from shared.settings import Secret

MODEL = "bench/echo"
UPSTREAM_MODEL = "echo-1"
PROVIDER = "bench-upstream"
UPSTREAM_KEY = "sk-upstream-bench"
CUSTOMER = "bench-customer@example.com"
START_BALANCE = 1_000_000 * 1_000_000_000  # $1,000,000 in nano-USD: never the limiting factor
PRICES = Prices(input=1_000_000_000, output=2_000_000_000)  # $1 and $2 per 1M tokens


@dataclass(frozen=True)
class Seeded:
    """What the rest of the benchmark needs to know about the seeded database."""

    database_url: str
    user_id: int
    api_key: str
    start_balance: int
    charge_per_request: int


def expected_charge() -> int:
    """What one request costs at the seeded prices with the fake upstream's usage."""
    usage = TokenUsage(prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS)
    return price_of(usage, PRICES)


def seed(directory: Path, upstream_port: int, secret_key: Secret) -> Seeded:
    """Create, migrate and fill a SQLite database under `directory`; leaves it closed."""
    url = f"sqlite:///{directory / 'bench.db'}"
    init_db(url)
    try:
        upgrade()
        catalog.add_provider(
            PROVIDER, f"http://127.0.0.1:{upstream_port}/v1", UPSTREAM_KEY, secret_key, kind="openai"
        )
        catalog.add_model_route(
            MODEL,
            PROVIDER,
            PRICES.input,
            PRICES.output,
            upstream_model=UPSTREAM_MODEL,
            context_length=128_000,
        )
        user = accounts.create_user(CUSTOMER)
        billing.post_entry(user.id, START_BALANCE, "deposit", "bench:funds", reason="benchmark funds")
        _, secret = accounts.create_key(user, name="bench")
    finally:
        db.close()
    return Seeded(url, user.id, secret, START_BALANCE, expected_charge())
