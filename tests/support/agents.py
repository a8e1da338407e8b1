"""The coding agents Claude Code and Codex CLI, installed from the npm registry and run headless, offline.

    install_agents()                      # once per machine: npm install into var/agents/
    run = run_claude(base_url, key, "acme/chat-1", "create out.txt", workdir)
    run = run_codex(base_url + "/v1", key, "acme/chat-1", "create out.txt", workdir)

Both ship a native binary inside their npm package (a platform optional dependency), so nothing is
downloaded at run time. Each run gets a home and config directory of its own under `workdir`'s
parent, and everything that would call out (telemetry, updates, error reports) is switched off;
the only traffic is to the base URL given. Tool approvals are bypassed so that a scripted tool
call runs without a prompt: Claude Code's `Bash` tool, Codex's `exec_command`.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AGENTS_DIR = ROOT / "var" / "agents"
CLAUDE_CODE = "@anthropic-ai/claude-code"
CLAUDE_CODE_VERSION = "2.1.332"
CODEX = "@openai/codex"
CODEX_VERSION = "0.171.0"
INSTALL_TIMEOUT_S = 900
CLAUDE_BASH_TOOL = "Bash"
CODEX_SHELL_TOOL = "exec_command"
# What Claude Code reads to stay offline and quiet, and to accept skipping permissions as root.
CLAUDE_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "IS_SANDBOX": "1",
}


class AgentInstallError(RuntimeError):
    """npm could not install an agent."""


@dataclass(frozen=True)
class AgentRun:
    """One finished agent run."""

    returncode: int
    stdout: str
    stderr: str
    result: str  # the agent's final answer


def _package_version(name: str) -> str | None:
    manifest = AGENTS_DIR / "node_modules" / name / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text()).get("version"))


def _installed() -> bool:
    return (
        _package_version(CLAUDE_CODE) == CLAUDE_CODE_VERSION
        and _package_version(CODEX) == CODEX_VERSION
        and claude_binary().exists()
        and codex_binary().exists()
    )


def install_agents() -> None:
    """Install both agents at their pinned versions into var/agents/ unless they are there already."""
    AGENTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(AGENTS_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time, across test processes
        if _installed():
            return
        command = [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
            str(AGENTS_DIR),
            f"{CLAUDE_CODE}@{CLAUDE_CODE_VERSION}",
            f"{CODEX}@{CODEX_VERSION}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if done.returncode != 0 or not _installed():
            raise AgentInstallError(f"npm install failed ({done.returncode}): {done.stderr[-2000:]}")


def claude_binary() -> Path:
    """Claude Code's native binary (the package's own `bin`, which npm links it to)."""
    return AGENTS_DIR / "node_modules" / CLAUDE_CODE / "bin" / "claude.exe"


def codex_binary() -> Path:
    """Codex CLI's launcher (a small Node script that starts the packaged native binary)."""
    return AGENTS_DIR / "node_modules" / CODEX / "bin" / "codex.js"


def _base_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


def run_claude(
    base_url: str, api_key: str, model: str, prompt: str, workdir: Path, timeout_s: float = 120
) -> AgentRun:
    """`claude -p PROMPT` against `base_url` (the gateway, without /v1), printing its result as JSON."""
    home = workdir.parent / f"{workdir.name}-claude-home"
    env = {
        **_base_env(home),
        **CLAUDE_ENV,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
    }
    command = [
        str(claude_binary()),
        "-p",
        prompt,
        "--model",
        model,
        "--output-format",
        "json",
        "--dangerously-skip-permissions",
    ]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s)
    try:
        result = str(json.loads(done.stdout).get("result", ""))
    except json.JSONDecodeError:
        result = ""
    return AgentRun(done.returncode, done.stdout, done.stderr, result)


def codex_config(base_url: str, model: str) -> str:
    """A Codex `config.toml` whose default provider is the gateway, spoken to with the Responses API."""
    return (
        f'model = "{model}"\n'
        'model_provider = "tollgate"\n'
        "[model_providers.tollgate]\n"
        'name = "Tollgate"\n'
        f'base_url = "{base_url}"\n'
        'env_key = "TOLLGATE_API_KEY"\n'
        'wire_api = "responses"\n'
    )


def run_codex(
    base_url: str, api_key: str, model: str, prompt: str, workdir: Path, timeout_s: float = 120
) -> AgentRun:
    """`codex exec PROMPT` against `base_url` (the gateway's /v1), with approvals and sandbox off."""
    home = workdir.parent / f"{workdir.name}-codex-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(codex_config(base_url, model))
    env = {**_base_env(home), "CODEX_HOME": str(home), "TOLLGATE_API_KEY": api_key}
    command = [
        "node",
        str(codex_binary()),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        prompt,
    ]
    done = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    return AgentRun(done.returncode, done.stdout, done.stderr, done.stdout.strip())


def claude_tool_call(command: str, call_id: str = "toolu_1") -> dict[str, Any]:
    """A scripted tool call (for the fake upstream's `Reply.tool_calls`) of Claude Code's Bash tool."""
    arguments = json.dumps({"command": command, "description": "run a command"})
    return {"id": call_id, "name": CLAUDE_BASH_TOOL, "arguments": arguments}


def codex_tool_call(command: str, call_id: str = "call_1") -> dict[str, Any]:
    """A scripted tool call of Codex's exec_command tool."""
    return {"id": call_id, "name": CODEX_SHELL_TOOL, "arguments": json.dumps({"cmd": command})}
