"""Claude Code and Codex CLI, installed from npm, each completing a prompt that needs one tool call.

The agent talks to the real data plane; behind it the fake upstream first answers with a tool call
(the agent's own shell tool, which writes a file in the agent's working directory), then, once the
tool's result comes back, with the final text. Each agent runs on an Anthropic-kind route and on
OpenAI-compatible ones, and both of its requests show up in usage with their charges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared import catalog
from shared.models import UsageRecord
from tests.dataplane.helpers import CHAT_MODEL, Customer, Shop, charges, usage_for
from tests.support.agents import claude_tool_call, codex_tool_call, install_agents, run_claude, run_codex
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream, Reply

PROOF = "tollgate-ok"
COMMAND = f"echo {PROOF} > out.txt"
# The fake's usage for each of the two turns: (prompt, completion) → 20 × 1,000 + 4 × 2,000 nano-USD.
TURN = Reply(text="Done: out.txt is written.", usage=(20, 4))
TURN_CHARGE = 20 * 1_000 + 4 * 2_000


@pytest.fixture(scope="module", autouse=True)
def agents() -> None:
    install_agents()


@pytest.fixture
def routed(
    kind: str, shop: Shop, upstream: FakeUpstream, start_gateway: Callable[..., ServerThread]
) -> Iterator[tuple[ServerThread, Customer]]:
    """CHAT_MODEL on a provider of `kind`, a customer with $10, and the running data plane."""
    url = upstream.url  # type: ignore[attr-defined]
    catalog.add_provider("up", url + "/v1", "upstream-key", shop.settings.secret_key, kind=kind)
    shop.model(CHAT_MODEL, "up", upstream_model="up-model")
    customer = shop.customer(10_000_000_000)
    yield start_gateway(), customer


def _expected_path(kind: str, agent_path: str) -> str:
    """Where the gateway should have sent the agent's requests for this provider kind."""
    if kind == "anthropic":
        return "/v1/messages"
    if kind == "openai" and agent_path == "/v1/responses":
        return "/v1/responses"
    return "/v1/chat/completions"


def _check_usage(customer: Customer, endpoint: str) -> None:
    records = usage_for(2)
    assert [(r.endpoint, r.status, r.model) for r in records] == [(endpoint, "ok", CHAT_MODEL)] * 2
    assert charges(customer.user_id) == [TURN_CHARGE, TURN_CHARGE]
    assert UsageRecord.select().count() == 2


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_claude_code_runs_a_tool_through_the_gateway(
    kind: str, routed: tuple[ServerThread, Customer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway, customer = routed
    upstream.script(Reply(tool_calls=[claude_tool_call(COMMAND)], usage=(20, 4)), TURN)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_claude(gateway.url, customer.secret, CHAT_MODEL, "Write tollgate-ok into out.txt", workdir)

    assert run.returncode == 0, run.stderr
    assert (workdir / "out.txt").read_text().strip() == PROOF
    assert run.result == "Done: out.txt is written."
    assert [r.path for r in upstream.requests] == [_expected_path(kind, "/v1/messages")] * 2
    _check_usage(customer, "messages")


@pytest.mark.parametrize("kind", ["anthropic", "openai", "openai-chat"])
def test_codex_runs_a_tool_through_the_gateway(
    kind: str, routed: tuple[ServerThread, Customer], upstream: FakeUpstream, tmp_path: Path
) -> None:
    gateway, customer = routed
    upstream.script(Reply(tool_calls=[codex_tool_call(COMMAND)], usage=(20, 4)), TURN)
    workdir = tmp_path / "work"
    workdir.mkdir()

    run = run_codex(
        gateway.url + "/v1", customer.secret, CHAT_MODEL, "Write tollgate-ok into out.txt", workdir
    )

    assert run.returncode == 0, run.stderr
    assert (workdir / "out.txt").read_text().strip() == PROOF
    assert "Done: out.txt is written." in run.result
    assert [r.path for r in upstream.requests] == [_expected_path(kind, "/v1/responses")] * 2
    _check_usage(customer, "responses")
