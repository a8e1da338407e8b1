"""A throw-away database for one benchmark run, seeded through the shared services.

One provider pointing at the fake upstream, one priced model routed to it, one customer with a
large balance and one API key: exactly what an operator would set up with the console or CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    upstream_key: str


def expected_charge(completion_tokens: int = COMPLETION_TOKENS) -> int:
    """What one request costs at the seeded prices with the fake upstream's usage."""
    usage = TokenUsage(prompt_tokens=PROMPT_TOKENS, completion_tokens=completion_tokens)
    return price_of(usage, PRICES)


def seed(
    url: str,
    upstream_port: int,
    secret_key: Secret,
    upstream_key: str = UPSTREAM_KEY,
    completion_tokens: int = COMPLETION_TOKENS,
) -> Seeded:
    """Migrate and fill the empty database at `url`; leaves it closed.

    `upstream_key` is the provider key the gateway forwards, so the fake upstream counts this
    setup's calls apart from every other's; `completion_tokens` is what each of its replies uses.
    """
    init_db(url)
    try:
        upgrade()
        catalog.add_provider(
            PROVIDER, f"http://127.0.0.1:{upstream_port}/v1", upstream_key, secret_key, kind="openai"
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
    return Seeded(url, user.id, secret, START_BALANCE, expected_charge(completion_tokens), upstream_key)
