"""The data plane's Prometheus metrics, served by `GET /metrics` (dataplane/exposition.py).

Requests are counted once each, when their settlement is committed with its usage record
(`Metrics.settled`, from `Billing.finish`), or when they are refused before admission
(`Metrics.refused`): one dictionary lookup and a
few increments. Everything else (holds in flight, leases, the settlement queue, route health,
rate-limit refusals, readiness) stays where it is kept and is read by `StateCollector` only when
Prometheus scrapes. Labels are bounded: endpoint names, catalogue models, providers and their
upstream models, status classes; never a user, a key or a request id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dataplane.health import Health
from dataplane.leases import LeaseBook
from dataplane.ratelimit import Limiter
from dataplane.settlements import Settler
from shared.billing import Settlement

# Whole requests: a JSON reply takes milliseconds to a minute, a long stream several minutes.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32)
TOKEN_KINDS = ("input", "cached_input", "output", "reasoning")


@dataclass(frozen=True)
class Series:
    """The labelled children that requests of one (endpoint, model, status class) update."""

    requests: Counter
    latency: Histogram
    ttft: Histogram
    input: Counter
    cached_input: Counter
    output: Counter
    reasoning: Counter
    charges: Counter


class Metrics:
    """The per-request counters and histograms of one data-plane process, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "tollgate_requests",
            "Admitted requests (one usage record each) by endpoint, catalogue model and HTTP status class.",
            ("endpoint", "model", "status_class"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "tollgate_request_duration_seconds",
            "Time from admission to settlement (the last byte of a stream) of admitted requests.",
            ("endpoint", "model"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "tollgate_time_to_first_token_seconds",
            "Time from admission to the first token of streamed requests.",
            ("endpoint", "model"),
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "tollgate_tokens",
            "Tokens billed by model and kind (cached_input is part of input, reasoning part of output).",
            ("model", "kind"),
            registry=self.registry,
        )
        self.charges = Counter(
            "tollgate_charges_nano_usd",
            "What customers were charged, in nano-USD (integer amounts, exact below 2^53).",
            ("model",),
            registry=self.registry,
        )
        self.refusals = Counter(
            "tollgate_requests_refused",
            "Requests refused before admission (no usage record), by endpoint and HTTP status.",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self._series: dict[tuple[str, str, int], Series] = {}
        self._refused: dict[tuple[str, int], Counter] = {}

    def series(self, endpoint: str, model: str, status: int) -> Series:
        """The children of one label set, made on first use (the labels() calls cost more than an inc)."""
        key = (endpoint, model, status // 100)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = self._new_series(endpoint, model, f"{status // 100}xx")
        return found

    def _new_series(self, endpoint: str, model: str, status_class: str) -> Series:
        tokens = [self.tokens.labels(model, kind) for kind in TOKEN_KINDS]
        return Series(
            self.requests.labels(endpoint, model, status_class),
            self.latency.labels(endpoint, model),
            self.ttft.labels(endpoint, model),
            *tokens,
            self.charges.labels(model),
        )

    def settled(self, s: Settlement) -> None:
        """Count a finished request from its settlement (as its usage record will show it)."""
        series = self.series(s.endpoint, s.model, s.http_status)
        series.requests.inc()
        series.latency.observe(s.latency_ms / 1000)
        if s.ttft_ms is not None:
            series.ttft.observe(s.ttft_ms / 1000)
        if s.prompt_tokens:
            series.input.inc(s.prompt_tokens)
        if s.cached_tokens:
            series.cached_input.inc(s.cached_tokens)
        if s.completion_tokens:
            series.output.inc(s.completion_tokens)
        if s.reasoning_tokens:
            series.reasoning.inc(s.reasoning_tokens)
        if s.charge:
            series.charges.inc(s.charge)

    def refused(self, endpoint: str, status: int) -> None:
        """Count a request refused before it was admitted (no usage record): 400, 401, 402, 404, 429..."""
        child = self._refused.get((endpoint, status))
        if child is None:
            child = self._refused[endpoint, status] = self.refusals.labels(endpoint, str(status))
        child.inc()


@dataclass(frozen=True, eq=False)
class StateCollector(Collector):
    """Gauges and totals read, at scrape time, from the parts of the data plane that keep them."""

    in_flight: Callable[[], tuple[int, int]]  # (requests holding money, nano-USD they hold)
    leases: LeaseBook
    settler: Settler
    health: Health
    limiter: Limiter
    readiness: Callable[[], Mapping[str, bool]]

    def collect(self) -> Iterator[Metric]:
        """Every gauge and total, as they are now."""
        count, amount = self.in_flight()
        yield _gauge("tollgate_holds_in_flight", "Requests in flight holding their worst case.", count)
        yield _gauge("tollgate_holds_in_flight_nano_usd", "Worst cases held by requests in flight.", amount)
        leases = list(self.leases.leases.values())
        yield _gauge("tollgate_leases", "Balance leases this process holds (one per user).", len(leases))
        held = sum(x.amount for x in leases)
        yield _gauge("tollgate_leased_nano_usd", "Balance held by this process's leases.", held)
        yield from self._settlements()
        yield from self._health()
        rejections = CounterMetricFamily(
            "tollgate_rate_limit_rejections",
            "Requests refused by a rate limit, by the limit's scope (key, user) and kind.",
            labels=("scope", "kind"),
        )
        for labels, n in sorted(self.limiter.rejections.items()):
            rejections.add_metric(labels, n)
        yield rejections
        ready = GaugeMetricFamily(
            "tollgate_ready", "Each readiness check of /api/ready (1: passes).", labels=("check",)
        )
        for check, ok in self.readiness().items():
            ready.add_metric((check,), int(ok))
        yield ready

    def _settlements(self) -> Iterator[Metric]:
        settler = self.settler
        yield _gauge(
            "tollgate_settlements_unwritten", "Settlements queued or being written.", settler.unwritten
        )
        yield _gauge(
            "tollgate_settlement_oldest_age_seconds",
            "How long the oldest unwritten settlement has waited.",
            settler.oldest_age_s(),
        )
        yield _gauge(
            "tollgate_settlements_parked",
            "Settlements the database rejected, kept for shutdown.",
            len(settler.parked),
        )
        yield CounterMetricFamily(
            "tollgate_settlements_written", "Settlements committed to the database.", value=settler.written
        )

    def _health(self) -> Iterator[Metric]:
        health = self.health
        errors = CounterMetricFamily(
            "tollgate_upstream_errors",
            "Failed upstream attempts by provider, route (upstream model) and error class.",
            labels=("provider", "route", "error"),
        )
        for labels, n in sorted(health.errors.items()):
            errors.add_metric(labels, n)
        yield errors
        cooldowns = CounterMetricFamily(
            "tollgate_upstream_cooldowns",
            "Cool-downs entered by provider and route (* when the whole provider cooled down).",
            labels=("provider", "route"),
        )
        for labels, n in sorted(health.cooldowns.items()):
            cooldowns.add_metric(labels, n)
        yield cooldowns
        yield _gauge("tollgate_routes_cooling", "Routes cooling down now.", len(health.cooling_routes()))
        yield _gauge(
            "tollgate_providers_cooling", "Providers cooling down now.", len(health.cooling_providers())
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
