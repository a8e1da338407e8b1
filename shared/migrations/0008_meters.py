"""Prices by meter: a model's sale prices and a route's costs become {meter: price} maps.

The three token prices of each model and route move into the map as `input`, `output` and
`cached_input` (only when set), unchanged, so every charge stays what it was. Models gain their
capabilities and usage records the quantity and unit price of every meter they billed.
"""

import json

from peewee import *  # noqa: F403

TOKEN_COLUMNS = {
    "model": (("input_price", "input"), ("cached_input_price", "cached_input"), ("output_price", "output")),
    "route": (("input_cost", "input"), ("cached_input_cost", "cached_input"), ("output_cost", "output")),
}
MAP_COLUMN = {"model": "prices", "route": "costs"}


def _to_maps(db, table):
    columns = TOKEN_COLUMNS[table]
    names = ", ".join(f'"{old}"' for old, _ in columns)
    rows = db.execute_sql(f'SELECT "id", {names} FROM "{table}"').fetchall()
    for row_id, *values in rows:
        prices = {
            meter: value for (_, meter), value in zip(columns, values, strict=True) if value is not None
        }
        db.execute_sql(
            f'UPDATE "{table}" SET "{MAP_COLUMN[table]}" = {db.param} WHERE "id" = {db.param}',
            (json.dumps(prices, separators=(",", ":"), sort_keys=True), row_id),
        )


def _from_maps(db, table):
    columns = TOKEN_COLUMNS[table]
    rows = db.execute_sql(f'SELECT "id", "{MAP_COLUMN[table]}" FROM "{table}"').fetchall()
    for row_id, stored in rows:
        prices = json.loads(stored or "{}")
        values = [prices.get(meter, None if old.startswith("cached") else 0) for old, meter in columns]
        sets = ", ".join(f'"{old}" = {db.param}' for old, _ in columns)
        db.execute_sql(f'UPDATE "{table}" SET {sets} WHERE "id" = {db.param}', (*values, row_id))


def up(migrator, db):
    with db.atomic():
        migrator.migrate(
            migrator.add_column("model", "prices", TextField(default="{}")),
            migrator.add_column("model", "capabilities", TextField(null=True)),
            migrator.add_column("route", "costs", TextField(default="{}")),
            migrator.add_column("usage_record", "meters", TextField(null=True)),
        )
        for table in TOKEN_COLUMNS:
            _to_maps(db, table)
        for table, columns in TOKEN_COLUMNS.items():
            migrator.migrate(*(migrator.drop_column(table, old) for old, _ in columns))


def down(migrator, db):
    with db.atomic():
        migrator.migrate(
            migrator.add_column("model", "input_price", BigIntegerField(default=0)),
            migrator.add_column("model", "cached_input_price", BigIntegerField(null=True)),
            migrator.add_column("model", "output_price", BigIntegerField(default=0)),
            migrator.add_column("route", "input_cost", BigIntegerField(default=0)),
            migrator.add_column("route", "cached_input_cost", BigIntegerField(null=True)),
            migrator.add_column("route", "output_cost", BigIntegerField(default=0)),
        )
        for table in TOKEN_COLUMNS:
            _from_maps(db, table)
        migrator.migrate(
            migrator.drop_column("model", "prices"),
            migrator.drop_column("model", "capabilities"),
            migrator.drop_column("route", "costs"),
            migrator.drop_column("usage_record", "meters"),
        )
