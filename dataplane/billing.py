"""The billing hot path: hold before the upstream call, settle exactly once after it.

Design (DESIGN.md §3, without a DB write on the request path):

Leases. A data-plane process holds balance per user in one DB hold, its *lease*
(`shared.billing.open_hold(user, holder=<process id>, amount)`). The lease is opened for about
`lease_chunk_nano` (never more than the balance: then exactly what is needed, then whatever the
balance still has if that covers a minimal reply). Each request carves its worst case out of the
lease in memory; one event loop makes that arithmetic atomic, so no lock and no I/O is needed
while the lease has room. When it runs short, one `grow_hold` (a conditional update on the
balance) tops it up; if the DB says no, the request's output cap is lowered to what the lease
can pay, or it gets 402 when not even `min_reply_tokens` fit. Because every carve-out is backed
by a DB hold, the balance can never be overdrawn, even with many processes on one database.

A background task refreshes lease deadlines (`refresh_holds`, ttl `lease_ttl_s`) and gives idle
leftovers back (`shrink_hold` after `lease_idle_release_s` without traffic). If the worker
expired a lease because this process stalled past the deadline, the next refresh or grow notices
and the process opens a new lease; requests still in flight on the old one are charged to the
balance directly by `settle`.

Settlement. A finished request becomes a `Settlement` (tokens by class, unit prices, charge,
upstream cost, provider, latency, time to first token, status). The charge is the priced usage,
never more than the request's carve-out. It goes on an in-process queue that a writer task
flushes in batches, one transaction per batch (dataplane/settlements.py); `settle` is unique on
the request id, so each request is charged exactly once, and takes the charge out of the lease's
DB hold. **The response does not wait for its batch to commit**: until it does, the lease (a DB
hold) still contains the charge, so the money is covered; tests poll for the usage record. At
shutdown the queue is drained first, then every lease is closed.

Spend caps of keys are enforced the same way in memory (dataplane/keyring.py). Rate limits are
checked first, in `reserve` (so every endpoint that reserves is limited), and settled in `finish`
(dataplane/ratelimit.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from peewee import DatabaseError, InterfaceError

from dataplane.errors import insufficient_quota, service_unavailable
from dataplane.journal import Journal
from dataplane.keyring import CachedKey, Keyring
from dataplane.leases import Lease, LeaseBook
from dataplane.metrics import Metrics
from dataplane.ratelimit import Limiter, Ticket
from dataplane.settlements import Settler
from dataplane.snapshot import GroupInfo, KeyInfo, ModelInfo, RouteInfo
from shared.billing import Settlement
from shared.money import (
    PPM,
    TokenUsage,
    affordable_output_tokens,
    meter_map,
    price_of,
    worst_case,
)
from shared.money_text import money_text
from shared.settings import Settings


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its key, the key's owner group, and its ids."""

    entry: CachedKey
    key: KeyInfo
    group: GroupInfo
    request_id: str
    client_request_id: str | None


@dataclass
class Reservation:
    """Money set aside for one request, and the output cap it pays for (per choice)."""

    caller: Caller
    model: ModelInfo
    endpoint: str
    stream: bool
    lease: Lease | None
    amount: int
    output_cap: int
    lowered: bool
    started: float
    ticket: Ticket | None = None  # the rate limiter's, settled in `finish`
    # The usage record in the making: journaled when admitted, completed and queued by `finish`.
    record: Settlement | None = None


@dataclass
class Outcome:
    """How a request ended."""

    usage: TokenUsage
    status: str = "ok"  # ok | partial | error
    http_status: int = 200
    route: RouteInfo | None = None
    usage_source: str = "upstream"  # upstream | counted | none
    ttft_ms: int | None = None
    error: str = ""


class Billing:
    """Reserve before the upstream call; settle after it."""

    def __init__(
        self,
        settings: Settings,
        leases: LeaseBook,
        keyring: Keyring,
        settler: Settler,
        limiter: Limiter,
        journal: Journal,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        # Requests admitted and not yet finished, and what they hold (for /metrics).
        self.in_flight = 0
        self.in_flight_amount = 0
        self.leases = leases
        self.keyring = keyring
        self.settler = settler
        self.limiter = limiter
        self.journal = journal

    def default_cap(self, model: ModelInfo, requested: int | None) -> int:
        """The output cap to pay for: what was asked (at most the model's limit), else the default."""
        limit = model.max_output_tokens
        if requested is None:
            return limit or self.settings.default_max_output_tokens
        return min(requested, limit) if limit else requested

    async def reserve(
        self,
        caller: Caller,
        model: ModelInfo,
        prompt_bound: int,
        cap: int,
        n: int,
        endpoint: str,
        stream: bool,
        counts: Mapping[str, int] | None = None,
    ) -> Reservation:
        """Pass the rate limits (429), then hold the worst case (402 when even a minimal reply is unpaid).

        `counts` are the worst case of the meters that are not tokens (images asked for, audio
        seconds uploaded, characters to speak), held in full: they cannot be lowered like a cap.
        """
        if model.context_length:
            # The upstream cannot read more than its context window, whatever the body's size.
            prompt_bound = min(prompt_bound, model.context_length)
        ticket = await self.limiter.admit(caller.key, caller.group, prompt_bound, cap, n)
        if ticket is None:
            r = await self._hold(caller, model, prompt_bound, cap, n, endpoint, stream, counts)
        else:
            try:
                r = await self._hold(caller, model, prompt_bound, cap, n, endpoint, stream, counts)
            except BaseException:
                self.limiter.settle(ticket, 0)
                raise
            r.ticket = ticket
        r.record = self._record(r)
        self.journal.begin(caller.request_id, r.record)
        self.in_flight += 1
        self.in_flight_amount += r.amount
        return r

    async def _hold(
        self,
        caller: Caller,
        model: ModelInfo,
        prompt_bound: int,
        cap: int,
        n: int,
        endpoint: str,
        stream: bool,
        counts: Mapping[str, int] | None,
    ) -> Reservation:
        """Hold the worst case; lower `cap` to what the balance (or key cap) pays; 402 below a minimum."""
        mult = caller.group.multiplier_ppm
        floor_cap = min(cap, self.settings.min_reply_tokens)
        full = want = worst_case(prompt_bound, cap * n, model.prices, mult, counts)
        floor = worst_case(prompt_bound, floor_cap * n, model.prices, mult, counts)
        room = self.keyring.room(caller.entry)
        if room is not None:
            if room < floor:
                raise insufficient_quota(
                    "This API key has reached its spend cap: this request may cost up to "
                    f"{money_text(floor)} and {money_text(max(room, 0))} is left under the cap. "
                    "Raise the key's spend cap, ask for fewer output tokens, or use another key."
                )
            want = min(want, room)
        lease, amount = None, 0
        if want > 0:
            lease, amount = await self._carve(caller, want, floor)
        granted = cap
        if amount < full:
            granted = max(
                floor_cap,
                min(cap, affordable_output_tokens(amount, prompt_bound, model.prices, mult, counts) // n),
            )
        return Reservation(
            caller, model, endpoint, stream, lease, amount, granted, granted < cap, time.monotonic()
        )

    async def _carve(self, caller: Caller, want: int, floor: int) -> tuple[Lease, int]:
        key_id = caller.key.id
        # Count against the key's cap before waiting, so concurrent requests cannot all pass the check.
        self.keyring.hold(key_id, want)
        amount = 0
        try:
            lease, amount = await self.leases.reserve(caller.key.user_id, want, floor)
        except (DatabaseError, InterfaceError) as exc:
            raise service_unavailable("The billing database is unavailable; try again shortly.") from exc
        finally:
            self.keyring.hold(key_id, amount - want)
        if lease is None:
            raise insufficient_quota(
                "Your balance is too low for this request. Top up your balance and try again."
            )
        return lease, amount

    def checkpoint(self, r: Reservation, usage: TokenUsage, route: RouteInfo) -> None:
        """Journal what a stream delivered so far: what a crash from now on would still bill."""
        self.journal.checkpoint(
            r.caller.request_id,
            {
                "usage": [
                    usage.prompt_tokens,
                    usage.cached_tokens,
                    usage.completion_tokens,
                    usage.reasoning_tokens,
                ],
                "charge": price_of(usage, r.model.prices, r.caller.group.multiplier_ppm),
                "cost": price_of(usage, route.costs, PPM),
                "meters": meter_map(usage, r.model.prices),
                "provider": route.provider.name,
                "upstream_model": route.upstream_model,
            },
        )

    def finish(self, r: Reservation, outcome: Outcome) -> int:
        """Journal and queue the request's settlement and free its hold; returns the charge.

        The charge is the priced usage, even above the hold: the lease covers what it can and the
        settlement takes the rest from the balance as far as it covers it (a shortfall otherwise).
        """
        self.in_flight -= 1
        self.in_flight_amount -= r.amount
        priced = price_of(outcome.usage, r.model.prices, r.caller.group.multiplier_ppm)
        charge = priced
        room = self.keyring.room(r.caller.entry)
        if room is not None and priced > r.amount:
            # A key's spend cap is never passed: beyond it, the usage is recorded as a shortfall.
            charge = min(priced, r.amount + max(room, 0))
        key_id = r.caller.key.id
        lease = r.lease
        covered = self.leases.finish(lease, r.amount, charge) if lease is not None else 0
        if r.amount:
            self.keyring.finish(key_id, r.amount, charge)
        if r.ticket is not None:
            self.limiter.settle(r.ticket, outcome.usage.total_tokens)
        settlement = self._complete(r, outcome, charge, covered)
        settlement.shortfall = priced - charge
        request_id = r.caller.request_id
        self.journal.final(request_id, settlement)

        def committed() -> None:
            self.metrics.settled(settlement)  # with its usage record: the two always agree
            self.journal.committed(request_id)
            if lease is not None:
                self.leases.committed(lease, covered)
            if r.amount:
                self.keyring.committed(key_id, charge)

        self.settler.put(settlement, committed)
        return charge

    def _record(self, r: Reservation) -> Settlement:
        """The usage record of an admitted request as far as it is known before the upstream call."""
        return Settlement(
            request_id=r.caller.request_id,
            client_request_id=r.caller.client_request_id,
            user_id=r.caller.key.user_id,
            hold_id=r.lease.hold_id if r.lease else None,
            api_key_id=r.caller.key.id,
            model=r.model.slug,
            charge=0,
            status="unsettled",
            endpoint=r.endpoint,
            stream=r.stream,
            input_price=r.model.prices.input,
            cached_input_price=r.model.prices.cached,
            output_price=r.model.prices.output,
            multiplier_ppm=r.caller.group.multiplier_ppm,
            held=r.amount,
        )

    def _complete(self, r: Reservation, outcome: Outcome, charge: int, covered: int) -> Settlement:
        s = r.record if r.record is not None else self._record(r)
        usage = outcome.usage
        route = outcome.route
        s.charge = charge
        s.hold_share = covered if r.lease is not None else None
        s.cost = price_of(usage, route.costs, PPM) if route else 0
        s.status = outcome.status
        if route:
            s.provider, s.upstream_model = route.provider.name, route.upstream_model
        s.http_status = outcome.http_status
        s.prompt_tokens = usage.prompt_tokens
        s.cached_tokens = usage.cached_tokens
        s.completion_tokens = usage.completion_tokens
        s.reasoning_tokens = usage.reasoning_tokens
        s.meters = meter_map(usage, r.model.prices)
        s.usage_source = outcome.usage_source
        s.latency_ms = int((time.monotonic() - r.started) * 1000)
        s.ttft_ms = outcome.ttft_ms
        s.error = outcome.error[:2000]
        return s
