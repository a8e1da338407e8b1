"""Price versions: every change of a model's sale prices, by a sync, an approval or by hand.

The data plane bills from the model's current prices (reloaded with the config version), so a
request pays the price in force when it was admitted; the versions are the record of which price
that was, shown in the change log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from peewee import fn

from shared.models import CatalogModel, PriceVersion, utcnow

# {meter: nano-USD}, as in shared/pricing/sources.py (not imported: catalogue code loads this module).
Meters = dict[str, int]
MANUAL = "manual"
SOURCE_LENGTH = 64  # PriceVersion.source's column size


def record(
    model_id: int,
    old_prices: Meters | None,
    prices: Meters,
    source: str,
    actor: str,
    costs: Mapping[int, Meters] | None = None,
    when: dt.datetime | None = None,
) -> PriceVersion:
    """Record that `model_id` sells at `prices` from `when` on (call inside the change's transaction)."""
    return PriceVersion.create(
        model=model_id,
        old_prices=old_prices,
        prices=dict(prices),
        costs={str(k): v for k, v in costs.items()} if costs else None,
        effective_at=when or utcnow(),
        source=source[:SOURCE_LENGTH],
        actor=actor[:254],
    )


def record_manual(
    model: CatalogModel, old_prices: Meters | None, actor: str, source: str = MANUAL
) -> PriceVersion | None:
    """A version for a hand edit (or an import) of `model`'s sale prices; None when they did not move."""
    fresh = CatalogModel.get_by_id(model.id)
    if old_prices is not None and dict(fresh.prices) == dict(old_prices):
        return None
    return record(model.id, old_prices, fresh.prices, source, actor or source)


def last_changed(model_ids: list[int] | None = None) -> dict[int, dt.datetime]:
    """When each model's prices last changed (models without a version are absent)."""
    query = PriceVersion.select(PriceVersion.model, fn.MAX(PriceVersion.effective_at))
    if model_ids is not None:
        query = query.where(PriceVersion.model.in_(model_ids))
    return {model_id: at for model_id, at in query.group_by(PriceVersion.model).tuples()}


def history(limit: int = 20) -> list[PriceVersion]:
    """The latest price versions with their models, newest first."""
    query = PriceVersion.select(PriceVersion, CatalogModel).join(CatalogModel)
    return list(query.order_by(PriceVersion.id.desc()).limit(limit))


@dataclass(frozen=True)
class Move:
    """One meter's sale price before and after a change, and how far it moved in percent."""

    meter: str
    old: int | None
    new: int | None

    @property
    def pct(self) -> Decimal | None:
        """The move in percent of the old price (None when there was no old price to move from)."""
        if not self.old or self.new is None:
            return None
        return (Decimal(self.new - self.old) * 100 / self.old).quantize(Decimal("0.1"))


def moves(old: Meters | None, new: Meters | None) -> list[Move]:
    """Every meter priced before or after, by name, with its old and new price."""
    before, after = old or {}, new or {}
    return [Move(m, before.get(m), after.get(m)) for m in sorted(set(before) | set(after))]
