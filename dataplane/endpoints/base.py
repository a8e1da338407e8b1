"""What an endpoint is: a description the one pipeline (dataplane/pipeline.py) follows.

An endpoint says how to parse and bound its body (`parse`), and, per route, how the request goes
upstream and how the answer comes back. Two ways exist for each route:

- **native**, when the route's provider kind serves this endpoint as it is (shared/provider_kinds.py):
  the body goes through with `model` (and billing's fields) rewritten, the reply and the stream come
  back unchanged and are only metered;
- **translated**, through OpenAI chat completions, the internal form: the endpoint turns its call
  into a chat body (`chat_body`), the provider kind turns that into its own wire format and back
  (dataplane/upstreams/), and the endpoint turns the chat completion or chat chunks into its
  client's dialect (`from_chat`, `chat_encoder`).

Errors are shaped by the endpoint's API family (`family`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from starlette.requests import Request

from dataplane.bodies import read_json
from dataplane.errors import bad_request
from dataplane.failover import JSON, SSE
from dataplane.snapshot import RouteInfo, Snapshot
from shared.money import TokenUsage
from shared.settings import Settings

if TYPE_CHECKING:
    from dataplane.billing import Caller, Reservation
    from dataplane.failover import Failures
    from dataplane.gateway import Gateway
    from dataplane.upstreams.base import Upstream

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass
class Call:
    """One parsed request: what billing and routing need, and the endpoint's own parsed form."""

    model: str
    stream: bool
    prompt_bound: int
    requested_cap: int | None
    parsed: Any
    n: int = 1
    include_usage: bool = False
    # The client's request headers an endpoint forwards natively (anthropic-version, anthropic-beta).
    headers: dict[str, str] = field(default_factory=dict)
    # Whatever `prepare` loaded (e.g. a stored conversation).
    extra: dict[str, Any] = field(default_factory=dict)
    # The worst case of the meters that are not tokens ({"image:1024x1024:hd": 2}), held in full.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class NativeReply:
    """A native upstream reply as it goes to the client, and what it reports it used."""

    content: bytes
    usage: TokenUsage | None
    counted_output: int  # an estimate of the output tokens, made only when `usage` is None
    media_type: str = "application/json"
    usage_source: str = "upstream"  # "counted" when the gateway measured `usage` itself


class StreamDialect(Protocol):
    """How one stream's upstream events become client bytes, with its metering (one per stream).

    `event` gets the `data` of one upstream SSE event and the whole event as received; it updates
    the meter and returns the bytes to send (possibly none).
    """

    keepalive: bytes
    meter: Any  # dataplane.stream_relay.Meter

    def opening(self) -> bytes: ...
    def event(self, data: bytes, whole: bytes) -> bytes: ...
    def closing(self) -> bytes: ...
    def failure(self, code: str, message: str) -> bytes: ...
    def counted_usage(self) -> TokenUsage: ...


class Endpoint:
    """Base of every endpoint description; subclasses fill in their dialect."""

    name = ""  # as recorded on usage records: chat, embeddings, messages, responses, completions
    paths: tuple[str, ...] = ()  # under every API prefix (/v1, /api/v1, none)
    family = OPENAI
    modality = "chat"
    bills_output = True  # False: no output cap to pay for (embeddings)
    translatable = True  # False: only providers that serve it natively can take it

    async def read(self, request: Request, settings: Settings) -> tuple[bytes, Any]:
        """The raw body and its parsed form (a JSON object; multipart endpoints read a `Form`)."""
        return await read_json(request, settings.max_body_bytes)

    def parse(self, raw: bytes, body: dict[str, Any], headers: httpx.Headers | Any) -> Call:
        """Check the body (400 naming the bad field) and size it for the hold."""
        raise NotImplementedError

    def expects(self, call: Call) -> str:
        """What a successful upstream answer is (dataplane/failover.py): an event stream when
        streaming, else a JSON object; endpoints with other replies say TEXT or BYTES."""
        return SSE if call.stream else JSON

    def bytes_usage(self, call: Call) -> TokenUsage:
        """What a BYTES reply (relayed as it arrives) bills once it was delivered whole."""
        raise NotImplementedError

    def default_model(self, snapshot: Snapshot) -> str:
        """The model of a call that named none (only endpoints whose `parse` allows that get here)."""
        raise bad_request("model", "you must provide a model parameter (a string).")

    async def prepare(self, gateway: Gateway, caller: Caller, call: Call) -> None:
        """Anything to load before the hold (run DB work through `gateway.run_db`)."""

    def native_request(
        self, adapter: Upstream, route: RouteInfo, call: Call, r: Reservation
    ) -> httpx.Request:
        """The upstream request when the route's kind serves this endpoint natively."""
        raise NotImplementedError

    def native_reply(self, call: Call, payload: dict[str, Any], content: bytes) -> NativeReply:
        """A native non-streaming reply: what goes out and what it used."""
        raise NotImplementedError

    async def complete_reply(self, gateway: Gateway, call: Call, native: NativeReply) -> NativeReply:
        """A native reply's last step before it is billed, for work that waits (keeping or fetching
        files); a GatewayError raised here fails the call, billed nothing."""
        return native

    def native_stream(self, call: Call, r: Reservation) -> StreamDialect:
        """The dialect relaying a native stream (metered, not changed)."""
        raise NotImplementedError

    def chat_body(self, call: Call, r: Reservation) -> dict[str, Any]:
        """The OpenAI chat completion body standing for this call on translated routes."""
        raise NotImplementedError

    def from_chat(self, call: Call, r: Reservation, completion: dict[str, Any], usage: TokenUsage) -> bytes:
        """The client's reply for a chat completion (translated routes)."""
        raise NotImplementedError

    def chat_encoder(self, call: Call, r: Reservation) -> ChunkEncoder:
        """How chat chunks become this endpoint's stream events (translated routes)."""
        raise NotImplementedError

    def counted_prompt(self, call: Call) -> int:
        """An estimate of the prompt's tokens, for a reply that reports no usage."""
        raise NotImplementedError

    def failed(self, error: Exception, failures: Failures) -> Exception:
        """The error the client sees when no route answered (endpoints may keep an upstream status)."""
        return error

    async def finished(self, gateway: Gateway, call: Call, r: Reservation, reply: dict[str, Any]) -> None:
        """After a whole reply was billed (e.g. store it); `reply` is the object the client got."""

    async def stream_finished(self, gateway: Gateway, call: Call, r: Reservation, dialect: Any) -> None:
        """After a stream ended well and was billed; `dialect` is the stream's (see `native_stream`)."""


class ChunkEncoder(Protocol):
    """Chat completion chunks → one client dialect's stream bytes (translated routes)."""

    keepalive: bytes

    def opening(self) -> bytes: ...
    def chunk(self, data: bytes, chunk: dict[str, Any]) -> bytes: ...
    def closing(self, usage: TokenUsage, finish_reason: str | None) -> bytes: ...
    def failure(self, code: str, message: str) -> bytes: ...
