"""The numbered migrations build exactly the schema the models declare."""

from __future__ import annotations

import re

from shared import migrations
from shared.db import db
from shared.models import ALL_MODELS, CatalogModel, Route
from shared.money import TokenUsage, price_of
from shared.password_resets import PasswordReset
from shared.sessions import ConsoleSession
from shared.throttle import LoginThrottle
from tests.support import databases

# Tables whose models live outside shared/models.py.
SIGN_IN_MODELS = [LoginThrottle, ConsoleSession, PasswordReset]


def test_migration_numbers_are_unique() -> None:
    numbers = [int(re.match(r"\d+", p.name).group()) for p in migrations.DIRECTORY.glob("[0-9]*.py")]
    assert numbers, "no migrations found"
    assert len(numbers) == len(set(numbers))


def test_upgrade_builds_every_model_table(database_url: str) -> None:
    assert databases.models_cover_schema(db.obj) == set()
    assert migrations.pending() == []


def test_every_model_column_exists(database_url: str) -> None:
    for model in ALL_MODELS:
        columns = {c.name for c in db.obj.get_columns(model._meta.table_name)}
        declared = {f.column_name for f in model._meta.sorted_fields}
        assert declared <= columns, f"{model.__name__} lacks {declared - columns}"


def test_sign_in_tables_match_their_models(database_url: str) -> None:
    for model in SIGN_IN_MODELS:
        columns = {c.name for c in db.obj.get_columns(model._meta.table_name)}
        declared = {f.column_name for f in model._meta.sorted_fields}
        assert declared == columns, f"{model.__name__}: {declared ^ columns}"


def test_the_sign_in_migration_goes_down_and_up_again(database_url: str) -> None:
    migrations.runner().down("0007_sign_in")
    assert {c.name for c in db.obj.get_columns("login_throttle")} == {"key", "failures", "window_start"}
    assert not {"console_session", "password_reset"} & set(db.obj.get_tables())
    assert "0007_sign_in" in migrations.upgrade()
    assert migrations.pending() == []


# Old token price columns (input, cached input, output) of a model and of its route's costs.
OLD_PRICES = [(2_500_000_000, 1_250_000_000, 10_000_000_000), (150_000_000, None, 600_000_000), (7, None, 0)]
USAGES = [
    TokenUsage(prompt_tokens=1_000, cached_tokens=400, completion_tokens=333),
    TokenUsage(prompt_tokens=1, completion_tokens=1),
    TokenUsage(prompt_tokens=123_457, cached_tokens=100_000, completion_tokens=9_999, reasoning_tokens=4_000),
    TokenUsage(prompt_tokens=50, cache_write_tokens=20, completion_tokens=7),
]


def _old_price(usage: TokenUsage, input_price: int, cached: int | None, output: int, ppm: int) -> int:
    """The charge as the token-price columns computed it before meters (one rounding up)."""
    read = min(usage.cached_tokens, usage.prompt_tokens)
    cached = input_price if cached is None else cached
    weighted = (usage.prompt_tokens - read) * input_price + read * cached + usage.completion_tokens * output
    return -(-weighted * ppm // (1_000_000 * 1_000_000))


def test_token_prices_become_meters_with_every_charge_unchanged(database_url: str) -> None:
    migrations.runner().down("0008_meters")
    db.obj.execute_sql(
        "INSERT INTO provider (name, kind, base_url, api_key_encrypted, timeout_s, enabled, created_at)"
        " VALUES ('p', 'openai', 'http://x/v1', '', 60, true, '2026-01-01')"
    )
    for i, (inp, cached, out) in enumerate(OLD_PRICES):
        db.obj.execute_sql(
            "INSERT INTO model (slug, modality, input_price, cached_input_price, output_price, enabled,"
            " created_at)"
            f" VALUES ('m{i}', 'chat', {db.obj.param}, {db.obj.param}, {db.obj.param}, true, '2026-01-01')",
            (inp, cached, out),
        )
        db.obj.execute_sql(
            "INSERT INTO route (model_id, provider_id, upstream_model, priority, weight, input_cost,"
            " cached_input_cost, output_cost, enabled, created_at) SELECT id, (SELECT id FROM provider),"
            f" 'up', 0, 1, {db.obj.param}, {db.obj.param}, {db.obj.param}, true, '2026-01-01' FROM model"
            f" WHERE slug = 'm{i}'",
            (inp // 2, None if cached is None else cached // 2, out // 2),
        )
    assert "0008_meters" in migrations.upgrade()
    for i, (inp, cached, out) in enumerate(OLD_PRICES):
        model = CatalogModel.get(CatalogModel.slug == f"m{i}")
        route = Route.get(Route.model == model)
        for usage in USAGES:
            for ppm in (1_000_000, 1_234_567):
                assert price_of(usage, model.sale_prices, ppm) == _old_price(usage, inp, cached, out, ppm)
            halves = (inp // 2, None if cached is None else cached // 2, out // 2)
            assert price_of(usage, route.cost_prices) == _old_price(usage, *halves, 1_000_000)
    migrations.runner().down("0008_meters")
    restored = db.obj.execute_sql(
        "SELECT input_price, cached_input_price, output_price FROM model ORDER BY slug"
    )
    assert [tuple(row) for row in restored.fetchall()] == OLD_PRICES
    assert "0008_meters" in migrations.upgrade()
