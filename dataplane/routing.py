"""Which provider routes to try for a model, in what order, and which providers to skip.

Routes are tried by priority (higher first); inside one priority tier the order is a weighted
random draw. A provider that fails `provider_failure_threshold` times in a row is skipped for
`provider_cooldown_s`; after that one attempt is let through, and a single further failure
puts it back in cool-down (a success clears it).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from itertools import groupby

from dataplane.snapshot import RouteInfo


class ProviderHealth:
    """Consecutive failures and cool-downs per provider, for one process."""

    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self.threshold = max(threshold, 1)
        self.cooldown_s = cooldown_s
        self._failures: defaultdict[int, int] = defaultdict(int)
        self._cooling_until: dict[int, float] = {}

    def available(self, provider_id: int, now: float) -> bool:
        """False while the provider is cooling down."""
        until = self._cooling_until.get(provider_id)
        return until is None or now >= until

    def failed(self, provider_id: int) -> None:
        """Count a connect error, timeout, 429 or 5xx."""
        self._failures[provider_id] += 1
        if self._failures[provider_id] >= self.threshold:
            self._cooling_until[provider_id] = time.monotonic() + self.cooldown_s

    def succeeded(self, provider_id: int) -> None:
        """The provider answered: forget its failures."""
        if provider_id in self._failures:
            del self._failures[provider_id]
            self._cooling_until.pop(provider_id, None)

    def first_token(self, route: object, ttft_s: float) -> None:
        """TEMPORARY shim until per-route health lands."""

    def cooling(self) -> set[int]:
        """Providers cooling down right now."""
        now = time.monotonic()
        return {pid for pid, until in self._cooling_until.items() if now < until}


def _weighted_order(tier: list[RouteInfo], rng: random.Random) -> list[RouteInfo]:
    if len(tier) == 1:
        return tier
    left = list(tier)
    order = []
    while left:
        pick = rng.uniform(0, sum(r.weight for r in left))
        for i, route in enumerate(left):
            pick -= route.weight
            if pick <= 0 or i == len(left) - 1:
                order.append(left.pop(i))
                break
    return order


def candidates(routes: tuple[RouteInfo, ...], health: ProviderHealth, rng: random.Random) -> list[RouteInfo]:
    """The routes to try, in order, leaving out providers in cool-down."""
    now = time.monotonic()
    usable = [r for r in routes if health.available(r.provider.id, now)]
    ordered: list[RouteInfo] = []
    for _, tier in groupby(usable, key=lambda r: r.priority):
        ordered.extend(_weighted_order(list(tier), rng))
    return ordered
