"""Which routes to try for a model, and in what order.

Routes are tried by priority (higher first); inside one priority tier the order is a weighted
random draw. Routes that are cooling down, on their own account or their provider's
(dataplane/health.py), are left out; when that leaves none, the one whose cool-down ends first is
tried anyway, since answering 503 without trying helps nobody.
"""

from __future__ import annotations

import random
from itertools import groupby

from dataplane.health import Health
from dataplane.snapshot import RouteInfo


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


def candidates(routes: tuple[RouteInfo, ...], health: Health, rng: random.Random) -> list[RouteInfo]:
    """The routes to try, in order: the available ones, else the one that is ready first."""
    now = health.clock()
    usable = [r for r in routes if health.available(r, now)]
    if not usable:
        return [min(routes, key=health.ready_at)] if routes else []
    ordered: list[RouteInfo] = []
    for _, tier in groupby(usable, key=lambda r: r.priority):
        ordered.extend(_weighted_order(list(tier), rng))
    return ordered
