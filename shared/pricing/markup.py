"""Sale prices from costs: cost × (1 + markup %) + a fixed amount, rounded up to a step.

Rules are per model, per provider or global; the most specific one applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from shared.errors import InvalidInput
from shared.pricing.sources import Meters


@dataclass(frozen=True)
class Rule:
    """A markup: percent over cost, a fixed nano-USD added to every priced meter, a rounding step."""

    markup_pct: Decimal = Decimal(0)
    fixed: int = 0
    step: int = 1

    def sale(self, cost: int) -> int:
        """The sale price for one meter's cost, in nano-USD, rounded up to the step."""
        raw = Decimal(cost) * (1 + self.markup_pct / 100) + self.fixed
        steps = (raw / self.step).to_integral_value(rounding=ROUND_CEILING)
        return int(steps) * self.step

    def prices(self, costs: Meters) -> Meters:
        """Sale prices for every metered cost."""
        return {meter: self.sale(cost) for meter, cost in costs.items()}

    def to_json(self) -> dict[str, Any]:
        return {"markup_pct": str(self.markup_pct), "fixed": self.fixed, "step": self.step}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        """A rule from its stored or typed form; InvalidInput for a negative or malformed value."""
        try:
            pct = Decimal(str(data.get("markup_pct", "0")))
        except InvalidOperation as exc:
            raise InvalidInput("markup", "must be a number of percent") from exc
        fixed, step = int(data.get("fixed", 0)), int(data.get("step", 1))
        if not pct.is_finite() or pct < -100:
            raise InvalidInput("markup", "must be a number of percent, at least -100")
        if fixed < 0:
            raise InvalidInput("fixed", "must not be negative")
        if step < 1:
            raise InvalidInput("step", "must be at least 1 nano-USD")
        return cls(pct, fixed, step)


@dataclass(frozen=True)
class Rules:
    """Every markup rule the operator set."""

    default: Rule = Rule()
    providers: Mapping[str, Rule] = field(default_factory=dict)
    models: Mapping[str, Rule] = field(default_factory=dict)

    def for_route(self, model_slug: str, provider_name: str) -> Rule:
        """The most specific rule: the model's, else the provider's, else the global one."""
        return self.models.get(model_slug) or self.providers.get(provider_name) or self.default

    def to_json(self) -> dict[str, Any]:
        return {
            "global": self.default.to_json(),
            "providers": {k: r.to_json() for k, r in self.providers.items()},
            "models": {k: r.to_json() for k, r in self.models.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rules:
        return cls(
            Rule.from_json(data.get("global") or {}),
            {k: Rule.from_json(v) for k, v in (data.get("providers") or {}).items()},
            {k: Rule.from_json(v) for k, v in (data.get("models") or {}).items()},
        )
