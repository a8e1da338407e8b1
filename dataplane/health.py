"""Health of routes and providers, for one data-plane process: cool-downs and recent statistics.

A route is one way to serve a model (provider × upstream model). Its failures (5xx, 429, a read
timeout, an unusable body, a stream cut mid-way) count against that route only, so one broken
model never takes its provider's other models down. Connect failures and credential answers
(401/402/403) say the provider itself is unreachable or refuses us: they count for the provider,
and so for all its routes. After `threshold` consecutive failures the route (or provider) cools
down for `cooldown_s`; then one attempt is let through, and a single further failure puts it back.

Statistics (requests, failures, latency to the response headers, time to first token) are kept in
one bucket per minute for the last hour, each with a bounded ring of samples, so recording is
O(1) and memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from dataplane.snapshot import RouteInfo

SAMPLES = 64  # latency samples kept per bucket
WINDOW_MINUTES = 60
PROVIDER_STATUSES = frozenset({401, 402, 403})


@dataclass
class Breaker:
    """Consecutive failures and the cool-down they caused."""

    failures: int = 0
    cooling_until: float = 0.0


@dataclass
class Bucket:
    """One minute of one route's (or provider's) traffic."""

    minute: int
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    seen_latencies: int = 0
    seen_ttfts: int = 0

    def latency(self, seconds: float) -> None:
        self.seen_latencies = _ring(self.latencies, self.seen_latencies, seconds)

    def ttft(self, seconds: float) -> None:
        self.seen_ttfts = _ring(self.ttfts, self.seen_ttfts, seconds)


def _ring(samples: list[float], seen: int, value: float) -> int:
    """Keep at most SAMPLES values, the newest overwriting the oldest; returns the new count seen."""
    if len(samples) < SAMPLES:
        samples.append(value)
    else:
        samples[seen % SAMPLES] = value
    return seen + 1


@dataclass
class Stats:
    """The recent buckets of one route or provider, and its last error."""

    buckets: deque[Bucket] = field(default_factory=deque)
    last_error: tuple[str, float] | None = None  # (error class, wall-clock time)


@dataclass(frozen=True)
class Window:
    """Totals over the last few minutes."""

    requests: int
    failures: int
    latencies: list[float]
    ttfts: list[float]


def error_class(kind: str, status: int) -> str:
    """A short name for what went wrong: connect, timeout, invalid, stream, or http_<status>."""
    return f"http_{status}" if kind == "status" else kind


class Health:
    """Cool-downs and statistics per route and per provider."""

    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(threshold, 1)
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._routes: dict[int, Breaker] = {}
        self._providers: dict[int, Breaker] = {}
        self._stats: dict[tuple[str, int], Stats] = {}
        # Totals since start, for /metrics: (provider, upstream model, error class) and cool-downs
        # entered by (provider, upstream model), "*" for the whole provider.
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self.cooldowns: Counter[tuple[str, str]] = Counter()

    def _breakers(self, route: RouteInfo) -> tuple[Breaker | None, Breaker | None]:
        return self._routes.get(route.id), self._providers.get(route.provider.id)

    def available(self, route: RouteInfo, now: float) -> bool:
        """False while the route or its provider is cooling down."""
        return self.ready_at(route) <= now

    def ready_at(self, route: RouteInfo) -> float:
        """When the route may be tried again (in the past when it may be tried now)."""
        own, provider = self._breakers(route)
        return max(own.cooling_until if own else 0.0, provider.cooling_until if provider else 0.0)

    def succeeded(self, route: RouteInfo, latency_s: float) -> None:
        """The upstream answered (2xx headers): forget the route's and the provider's failures."""
        self._routes.pop(route.id, None)
        self._providers.pop(route.provider.id, None)
        self._record(route, latency_s, failed=False)

    def answered(self, route: RouteInfo) -> None:
        """The provider answered about the request itself (a 4xx that is the client's): it is reachable."""
        self._providers.pop(route.provider.id, None)

    def failed(self, route: RouteInfo, kind: str, status: int = 0, latency_s: float = 0.0) -> None:
        """Count a failure: kind is connect, timeout, status (with the HTTP status), invalid or stream."""
        provider_wide = kind == "connect" or status in PROVIDER_STATUSES
        table, key = (self._providers, route.provider.id) if provider_wide else (self._routes, route.id)
        breaker = table.setdefault(key, Breaker())
        breaker.failures += 1
        if breaker.failures >= self.threshold:
            now = self.clock()
            if breaker.cooling_until <= now:
                self.cooldowns[route.provider.name, "*" if provider_wide else route.upstream_model] += 1
            breaker.cooling_until = now + self.cooldown_s
        error = error_class(kind, status)
        self.errors[route.provider.name, route.upstream_model, error] += 1
        self._record(route, None if kind == "stream" else latency_s, failed=True, error=error)

    def first_token(self, route: RouteInfo, ttft_s: float) -> None:
        """When a stream's first token went out, counted from the request's start."""
        for stats in self._both(route):
            self._bucket(stats).ttft(ttft_s)

    def cooling_providers(self) -> set[int]:
        """Providers cooling down right now."""
        now = self.clock()
        return {pid for pid, b in self._providers.items() if b.cooling_until > now}

    def cooling_routes(self) -> set[int]:
        """Routes cooling down right now (on their own account)."""
        now = self.clock()
        return {rid for rid, b in self._routes.items() if b.cooling_until > now}

    def route_cooling_until(self, route_id: int) -> float:
        breaker = self._routes.get(route_id)
        return breaker.cooling_until if breaker else 0.0

    def provider_cooling_until(self, provider_id: int) -> float:
        breaker = self._providers.get(provider_id)
        return breaker.cooling_until if breaker else 0.0

    def window(self, scope: str, key: int, minutes: int) -> Window:
        """Totals of a route ("route", id) or provider ("provider", id) over the last `minutes`."""
        stats = self._stats.get((scope, key))
        first = self._minute() - minutes + 1
        buckets = [b for b in stats.buckets if b.minute >= first] if stats else []
        return Window(
            sum(b.requests for b in buckets),
            sum(b.failures for b in buckets),
            [x for b in buckets for x in b.latencies],
            [x for b in buckets for x in b.ttfts],
        )

    def last_error(self, scope: str, key: int) -> tuple[str, float] | None:
        stats = self._stats.get((scope, key))
        return stats.last_error if stats else None

    def _minute(self) -> int:
        return int(self.clock() // 60)

    def _both(self, route: RouteInfo) -> tuple[Stats, Stats]:
        return (
            self._stats.setdefault(("route", route.id), Stats()),
            self._stats.setdefault(("provider", route.provider.id), Stats()),
        )

    def _bucket(self, stats: Stats) -> Bucket:
        minute = self._minute()
        buckets = stats.buckets
        if not buckets or buckets[-1].minute != minute:
            buckets.append(Bucket(minute))
            while buckets[0].minute <= minute - WINDOW_MINUTES:
                buckets.popleft()
        return buckets[-1]

    def _record(self, route: RouteInfo, latency_s: float | None, failed: bool, error: str = "") -> None:
        for stats in self._both(route):
            bucket = self._bucket(stats)
            if latency_s is not None:
                bucket.requests += 1
                bucket.latency(latency_s)
            bucket.failures += failed
            if failed:
                stats.last_error = (error, time.time())
