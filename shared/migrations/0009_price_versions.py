"""Price sync: every applied price is a version, large moves wait as pending changes, models can
pin their prices and routes their price-source entry."""

from peewee import *  # noqa: F403


class CatalogModel(Model):
    class Meta:
        table_name = "model"


class PriceVersion(Model):
    model = ForeignKeyField(CatalogModel, on_delete="CASCADE")
    prices = TextField(default="{}")
    costs = TextField(null=True)
    effective_at = DateTimeField(index=True)
    source = CharField(default="", max_length=64)
    actor = CharField(default="", max_length=254)

    class Meta:
        table_name = "price_version"


class PriceChange(Model):
    model = ForeignKeyField(CatalogModel, on_delete="CASCADE")
    old_prices = TextField(default="{}")
    prices = TextField(default="{}")
    costs = TextField(null=True)
    source = CharField(default="", max_length=64)
    state = CharField(default="pending", max_length=16)
    created_at = DateTimeField()
    decided_at = DateTimeField(null=True)
    decided_by = CharField(default="", max_length=254)

    class Meta:
        table_name = "price_change"


TABLES = [PriceVersion, PriceChange]


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("model", "prices_pinned", BooleanField(default=False)),
        migrator.add_column("route", "price_match", CharField(null=True, max_length=200)),
    )
    db.bind(TABLES)
    db.create_tables(TABLES)


def down(migrator, db):
    migrator.migrate(migrator.drop_table("price_change"), migrator.drop_table("price_version"))
    migrator.migrate(
        migrator.drop_column("model", "prices_pinned"), migrator.drop_column("route", "price_match")
    )
