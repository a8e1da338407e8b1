"""Rate limits: requests and tokens per minute, per API key and per user (DESIGN §4, PROTOCOL §6).

Where limits come from. A key's own `rpm_limit` / `tpm_limit` limit that key. The owner's group's
`rpm_limit` / `tpm_limit` limit each member *user* (all of that user's keys together; every member
has a budget of its own, the group does not share one). NULL means unlimited; a caller with no
limit at all costs one attribute check per request and nothing else.

How they count. Every limit is a leaky bucket of one minute: `used` drains continuously at
`limit` per minute, a request may start when the bucket has room for it, and the headers report
`limit - used` as remaining and the time until the bucket is empty as reset. A request costs 1 in
each request bucket. In each token bucket it needs its prompt estimate plus a minimal reply
(`min_reply_tokens` per choice) and reserves up to prompt estimate + output cap, as far as the
bucket has room: so a small request is not refused because of a large `max_tokens`, and
concurrent requests cannot all pass on the same room. The prompt estimate is the prompt bound
(bytes, dataplane/tokens.py) over four, the bytes per token of English text; it is an estimate,
not a bound. When the request ends (Billing.finish), the reservation is replaced by the tokens it
really used, which may put the bucket in debt, but never beyond one full minute, so a wait is at
most 60 s (PROTOCOL §3.3 wants Retry-After ≤ 60). A refused request changes no bucket; a request
refused later (402) gives its tokens back but still counts as a request.

Where they count. In process by default (one data plane: exact, no I/O). With `settings.redis_url`
all data planes share the buckets in Redis: one Lua script checks and takes every bucket of a
request atomically in one round trip, on Redis's clock; the corrections at the end are queued and
sent in pipelined batches off the request path. Keys are `<prefix>rl:{u<user id>}:...`, so one
request's buckets share a cluster slot. If Redis fails we **fail open**: the request is served
unlimited (an outage of an optional cache must not stop paid traffic), a warning is logged, and
Redis is not tried again for a second; /api/status reports it unreachable until a ping succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from dataplane.errors import GatewayError, rate_limited
from dataplane.snapshot import GroupInfo, KeyInfo
from shared.settings import Settings

log = logging.getLogger("tollgate.dataplane.ratelimit")

WINDOW_S = 60.0
BYTES_PER_TOKEN = 4
REQUESTS, TOKENS = "requests", "tokens"
REDIS_TIMEOUT_S = 0.5
REDIS_RETRY_S = 1.0  # after a Redis failure, requests skip Redis this long
LOCAL_PRUNE_AT = 10_000  # in-process buckets kept before idle ones are dropped

FAILURES = (RedisError, OSError)  # OSError covers timeouts and refused connections


@dataclass(frozen=True)
class Bucket:
    """One limit a request counts against."""

    name: str  # unique per user/key and kind, e.g. "{u7}:k:12:t"
    scope: str  # "key" | "user"
    kind: str  # REQUESTS | TOKENS
    limit: int


@dataclass(frozen=True)
class Decision:
    """What a check found: `blocker` is the index of the bucket that refused (None: admitted)."""

    blocker: int | None
    wait_s: float
    taken: int  # tokens reserved in every token bucket
    used: tuple[float, ...]  # each bucket's level after the check


@dataclass
class Ticket:
    """An admitted request's buckets and the tokens it reserved, to be settled once at the end."""

    buckets: tuple[Bucket, ...]
    used: tuple[float, ...]
    taken: int
    settled: bool = False

    def headers(self) -> dict[str, str]:
        """The `x-ratelimit-*` headers of the response."""
        return ratelimit_headers(self.buckets, self.used)


def buckets_of(key: KeyInfo, group: GroupInfo) -> tuple[Bucket, ...]:
    """The limits that apply to a request with this key (empty: unlimited)."""
    if (
        key.rpm_limit is None
        and key.tpm_limit is None
        and group.rpm_limit is None
        and group.tpm_limit is None
    ):
        return ()
    tag = f"{{u{key.user_id}}}"
    candidates = (
        (f"{tag}:k:{key.id}:r", "key", REQUESTS, key.rpm_limit),
        (f"{tag}:k:{key.id}:t", "key", TOKENS, key.tpm_limit),
        (f"{tag}:u:r", "user", REQUESTS, group.rpm_limit),
        (f"{tag}:u:t", "user", TOKENS, group.tpm_limit),
    )
    return tuple(Bucket(*c) for c in candidates if c[3] is not None and c[3] > 0)


def go_duration(seconds: float) -> str:
    """A Go-style duration rounded up to the millisecond: "0s", "250ms", "12.5s", "1m0s"."""
    ms = math.ceil(max(seconds, 0.0) * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, ms = divmod(ms, 60_000)
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{secs}" if minutes else secs


def ratelimit_headers(buckets: Sequence[Bucket], used: Sequence[float]) -> dict[str, str]:
    """Per kind, the tightest bucket's limit, remaining and time until it is empty."""
    headers = {}
    for kind in (REQUESTS, TOKENS):
        levels = [(b.limit - u, b, u) for b, u in zip(buckets, used, strict=True) if b.kind == kind]
        if not levels:
            continue
        room, bucket, level = min(levels, key=lambda item: item[0])
        headers[f"x-ratelimit-limit-{kind}"] = str(bucket.limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(math.floor(room), 0))
        headers[f"x-ratelimit-reset-{kind}"] = go_duration(level * WINDOW_S / bucket.limit)
    return headers


def decide(buckets: Sequence[Bucket], used: Sequence[float], need: int, want: int) -> Decision:
    """Admit or refuse against levels already drained to now (the Lua script below does the same)."""
    wait, blocker, take = 0.0, None, float(want)
    for i, (bucket, level) in enumerate(zip(buckets, used, strict=True)):
        cost = 1 if bucket.kind == REQUESTS else min(need, bucket.limit)
        if bucket.kind == TOKENS:
            take = min(take, bucket.limit - level)
        over = level + cost - bucket.limit
        if over > 0 and over * WINDOW_S / bucket.limit > wait:
            wait, blocker = over * WINDOW_S / bucket.limit, i
    if blocker is not None:
        return Decision(blocker, wait, 0, tuple(used))
    taken = max(math.floor(take), 0)
    after = tuple(u + (1 if b.kind == REQUESTS else taken) for b, u in zip(buckets, used, strict=True))
    return Decision(None, 0.0, taken, after)


def token_estimate(prompt_bound: int, cap: int, n: int, min_reply: int) -> tuple[int, int]:
    """(need, want): the tokens a request must find room for, and the most it reserves."""
    prompt = -(-prompt_bound // BYTES_PER_TOKEN)
    return prompt + min(cap, min_reply) * n, prompt + cap * n


def refusal(buckets: Sequence[Bucket], decision: Decision) -> GatewayError:
    """The 429 for a refused request."""
    assert decision.blocker is not None
    bucket = buckets[decision.blocker]
    owner = "this API key" if bucket.scope == "key" else "your account"
    wait = go_duration(decision.wait_s)
    message = (
        f"Rate limit reached for {bucket.kind} per minute on {owner}: limit {bucket.limit}. "
        f"Please try again in {wait}."
    )
    wait_ms = math.ceil(decision.wait_s * 1000)
    return rate_limited(bucket.kind, message, wait_ms, ratelimit_headers(buckets, decision.used))


class LocalCounters:
    """Buckets in this process's memory; the event loop makes each check atomic."""

    def __init__(self) -> None:
        self._levels: dict[str, tuple[float, float]] = {}  # name -> (used, at)
        self._pruned_at = time.monotonic()

    def _drained(self, bucket: Bucket, now: float) -> float:
        used, at = self._levels.get(bucket.name, (0.0, now))
        return max(used - (now - at) * bucket.limit / WINDOW_S, 0.0)

    async def take(self, buckets: tuple[Bucket, ...], need: int, want: int) -> Decision | None:
        now = time.monotonic()
        decision = decide(buckets, [self._drained(b, now) for b in buckets], need, want)
        if decision.blocker is None:
            for bucket, level in zip(buckets, decision.used, strict=True):
                self._levels[bucket.name] = (level, now)
            self._prune(now)
        return decision

    def correct(self, buckets: tuple[Bucket, ...], delta: int) -> None:
        now = time.monotonic()
        for bucket in buckets:
            level = min(max(self._drained(bucket, now) + delta, 0.0), float(bucket.limit))
            self._levels[bucket.name] = (level, now)

    def _prune(self, now: float) -> None:
        # A bucket never holds more than its limit, so after a window untouched it is empty.
        if len(self._levels) > LOCAL_PRUNE_AT and now - self._pruned_at > WINDOW_S:
            self._pruned_at = now
            self._levels = {k: v for k, v in self._levels.items() if now - v[1] < WINDOW_S}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    @property
    def status(self) -> dict[str, bool]:
        return {"configured": False, "reachable": False}


# KEYS: one hash per bucket. ARGV: window (ms), need, want, then limit and kind ("r"|"t") per bucket.
# Returns {blocker index (0: admitted), wait (ms), tokens taken, level of each bucket...}.
TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, need, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local used, kinds = {}, {}
local wait, blocker, take = 0, 0, want
for i, key in ipairs(KEYS) do
  local limit, kind = tonumber(ARGV[2 + 2 * i]), ARGV[3 + 2 * i]
  local state = redis.call('HMGET', key, 'u', 't')
  local u = tonumber(state[1]) or 0
  local at = tonumber(state[2]) or now
  u = math.max(u - math.max(now - at, 0) * limit / window, 0)
  local cost = 1
  if kind == 't' then
    cost = math.min(need, limit)
    take = math.min(take, limit - u)
  end
  local over = u + cost - limit
  if over > 0 and over * window / limit > wait then
    wait, blocker = over * window / limit, i
  end
  used[i], kinds[i] = u, kind
end
if blocker == 0 then
  take = math.max(math.floor(take), 0)
  for i, key in ipairs(KEYS) do
    if kinds[i] == 'r' then used[i] = used[i] + 1 else used[i] = used[i] + take end
    redis.call('HSET', key, 'u', tostring(used[i]), 't', tostring(now))
    redis.call('PEXPIRE', key, window + 1000)
  end
else
  take = 0
end
local out = {blocker, math.ceil(wait), take}
for i = 1, #KEYS do out[3 + i] = tostring(used[i]) end
return out
"""

# KEYS: token buckets. ARGV: window (ms), delta, then the limit of each bucket.
CORRECT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + i])
  local state = redis.call('HMGET', key, 'u', 't')
  local u = tonumber(state[1]) or 0
  local at = tonumber(state[2]) or now
  u = math.max(u - math.max(now - at, 0) * limit / window, 0)
  u = math.min(math.max(u + delta, 0), limit)
  redis.call('HSET', key, 'u', tostring(u), 't', tostring(now))
  redis.call('PEXPIRE', key, window + 1000)
end
return 0
"""


class RedisCounters:
    """Buckets in Redis, shared by every data plane: one script call per check, corrections batched."""

    def __init__(self, url: str, prefix: str) -> None:
        # No client-side retries and short timeouts: when Redis is away we fail open, quickly.
        self._redis = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        self._prefix = f"{prefix}rl:"
        self._take = self._redis.register_script(TAKE_LUA)
        self._correct = self._redis.register_script(CORRECT_LUA)
        self._pending: list[tuple[tuple[Bucket, ...], int]] = []
        self._wake = asyncio.Event()
        self._down_until = 0.0
        self.reachable = True
        self._tasks: list[asyncio.Task] = []

    async def take(self, buckets: tuple[Bucket, ...], need: int, want: int) -> Decision | None:
        """The decision, or None when Redis cannot be asked (the caller then fails open)."""
        if time.monotonic() < self._down_until:
            return None
        args: list[int | str] = [int(WINDOW_S * 1000), need, want]
        for bucket in buckets:
            args += [bucket.limit, "r" if bucket.kind == REQUESTS else "t"]
        try:
            out = await self._take(keys=[self._prefix + b.name for b in buckets], args=args)
        except FAILURES as exc:
            self._failed("check a rate limit", exc)
            return None
        blocker = int(out[0])
        used = tuple(float(level) for level in out[3:])
        return Decision(blocker - 1 if blocker else None, int(out[1]) / 1000, int(out[2]), used)

    def correct(self, buckets: tuple[Bucket, ...], delta: int) -> None:
        self._pending.append((buckets, delta))
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._flush_forever(), name="tollgate-ratelimit-flush"),
            asyncio.create_task(self._ping_forever(), name="tollgate-ratelimit-ping"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush()
        await self._redis.aclose()

    @property
    def status(self) -> dict[str, bool]:
        return {"configured": True, "reachable": self.reachable}

    def _failed(self, what: str, exc: BaseException) -> None:
        self._down_until = time.monotonic() + REDIS_RETRY_S
        if self.reachable:
            log.warning("Redis failed to %s (%s): rate limits are not enforced until it answers", what, exc)
        self.reachable = False

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        window_ms = int(WINDOW_S * 1000)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for buckets, delta in batch:
                    keys = [self._prefix + b.name for b in buckets]
                    await self._correct(
                        keys=keys, args=[window_ms, delta, *(b.limit for b in buckets)], client=pipe
                    )
                await pipe.execute()
        except FAILURES as exc:
            self._failed(f"apply {len(batch)} token correction(s), which are lost", exc)

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _ping_forever(self) -> None:
        while True:
            try:
                await self._redis.ping()
            except FAILURES as exc:
                self._failed("answer a ping", exc)
            else:
                if not self.reachable:
                    log.warning("Redis answers again: rate limits are enforced")
                self.reachable = True
                self._down_until = 0.0
            await asyncio.sleep(REDIS_RETRY_S)


class Limiter:
    """The data plane's rate limiter: in-process, or in Redis when `settings.redis_url` is set."""

    def __init__(self, settings: Settings) -> None:
        self.min_reply_tokens = settings.min_reply_tokens
        # Refusals since start by (scope, kind) of the limit that refused, for /metrics.
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.counters: LocalCounters | RedisCounters = (
            RedisCounters(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else LocalCounters()
        )

    async def admit(
        self, key: KeyInfo, group: GroupInfo, prompt_bound: int, cap: int, n: int
    ) -> Ticket | None:
        """Count a request that is about to start; 429 (GatewayError) if a limit refuses it.

        None when no limit applies (or Redis is down); else a ticket to `settle` exactly once.
        """
        buckets = buckets_of(key, group)
        if not buckets:
            return None
        need, want = token_estimate(prompt_bound, cap, n, self.min_reply_tokens)
        decision = await self.counters.take(buckets, need, want)
        if decision is None:
            return None
        if decision.blocker is not None:
            blocker = buckets[decision.blocker]
            self.rejections[blocker.scope, blocker.kind] += 1
            raise refusal(buckets, decision)
        return Ticket(buckets, decision.used, decision.taken)

    def settle(self, ticket: Ticket, tokens: int) -> None:
        """Replace the request's reserved tokens by the `tokens` it used (0: it was not served)."""
        if ticket.settled:
            return
        ticket.settled = True
        delta = tokens - ticket.taken
        token_buckets = tuple(b for b in ticket.buckets if b.kind == TOKENS)
        if token_buckets and delta:
            self.counters.correct(token_buckets, delta)

    async def start(self) -> None:
        await self.counters.start()

    async def close(self) -> None:
        await self.counters.close()

    @property
    def redis_status(self) -> dict[str, bool]:
        """For /api/status: whether Redis is configured and answered last time."""
        return self.counters.status
