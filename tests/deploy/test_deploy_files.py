"""The files in deploy/ are what an operator can use as they are: the compose file names real
services and real settings, HAProxy accepts its configurations, systemd accepts the units."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import balancer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
APP_SERVICES = {"migrate", "console", "worker", "dataplane"}
INSTALLED_TOLLGATE = "/opt/tollgate/.venv/bin/tollgate"


def setting_names() -> set[str]:
    """Every environment variable shared/settings.py reads (the first argument of its _env* calls)."""
    tree = ast.parse((ROOT / "shared" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("_env")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_settings_are_found() -> None:
    names = setting_names()
    assert {"DATABASE_URL", "REDIS_URL", "TOLLGATE_SECRET_KEY", "TOLLGATE_JOURNAL_DIR"} <= names
    assert "TOLLGATE_TRON_MNEMONIC" in names  # read by the sweeper alone, but read there


def test_compose_runs_every_part_once_and_the_data_planes_n_times() -> None:
    services = compose()["services"]

    assert set(services) == {"postgres", "redis", "balancer"} | APP_SERVICES
    assert services["dataplane"]["deploy"]["replicas"] >= 2
    assert "replicas" not in services["worker"].get("deploy", {})  # the one scheduler
    assert services["dataplane"]["command"][:2] == ["tollgate", "serve-api"]
    assert services["console"]["command"][:2] == ["tollgate", "serve-console"]
    assert services["worker"]["command"] == ["tollgate", "worker"]
    assert services["migrate"]["command"] == ["tollgate", "db", "upgrade"]
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # The worker recovers the journals of dead replicas only if it sees their directory.
    assert "var:/var/lib/tollgate" in services["worker"]["volumes"]
    assert "var:/var/lib/tollgate" in services["dataplane"]["volumes"]
    # Liveness for the container (a restart), readiness for the balancer (traffic).
    assert "/api/live" in " ".join(services["dataplane"]["healthcheck"]["test"])


def test_compose_sets_only_real_settings_and_the_same_ones_everywhere() -> None:
    services = compose()["services"]
    names = setting_names()
    environments = [services[name]["environment"] for name in sorted(APP_SERVICES)]

    for environment in environments:
        assert set(environment) <= names, set(environment) - names
        assert environment == environments[0]
    assert environments[0]["DATABASE_URL"].startswith("postgresql://")
    assert environments[0]["REDIS_URL"].startswith("redis://")
    assert environments[0]["TOLLGATE_SECRET_KEY"].startswith("${TOLLGATE_SECRET_KEY:?")


def test_the_environment_file_example_lists_every_setting_and_nothing_else() -> None:
    text = (DEPLOY / "tollgate.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))

    assert listed == setting_names() - {"TOLLGATE_TRON_MNEMONIC"}
    assert "TOLLGATE_TRON_MNEMONIC=" not in text  # the services never need it


def test_the_image_installs_the_tree_and_runs_the_data_plane() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]

    assert instructions[0].startswith("FROM python:") and instructions[0].endswith("-slim")
    assert "COPY templates ./templates" in instructions
    assert any(line.startswith("RUN pip install") for line in instructions)
    assert 'CMD ["tollgate", "serve-api", "--host", "0.0.0.0", "--port", "8000"]' in instructions


@pytest.fixture(scope="module")
def haproxy() -> None:
    reason = balancer.haproxy_unavailable()
    if reason:
        print(reason, file=sys.stderr)
        pytest.skip(reason)


@pytest.mark.parametrize("name", ["haproxy.cfg", "haproxy-compose.cfg"])
def test_haproxy_accepts_the_configurations(haproxy: None, name: str) -> None:
    done = balancer.check(DEPLOY / name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_haproxy_checks_readiness_and_never_retries_a_request_that_reached_a_data_plane() -> None:
    for name in ("haproxy.cfg", "haproxy-compose.cfg"):
        parts = balancer.sections((DEPLOY / name).read_text())
        assert "http-check send meth GET uri /api/ready" in parts["backend dataplanes"]
        assert "http-check expect status 200" in parts["backend dataplanes"]
        assert "retry-on conn-failure" in parts["defaults"]


def _units_as_installed_here(directory: Path) -> list[Path]:
    """The units with ExecStart pointing at this checkout's tollgate (systemd checks it exists)."""
    here = str(Path(sys.executable).with_name("tollgate"))
    paths = []
    for unit in UNITS.glob("*.service"):
        name = unit.name.replace("@.service", "@8000.service")  # an instance of the template
        paths.append(directory / name)
        paths[-1].write_text(unit.read_text().replace(INSTALLED_TOLLGATE, here))
    return sorted(paths)


def unit_keys(path: Path) -> dict[str, dict[str, str]]:
    """A unit file's sections and keys (systemd's INI dialect, one value per key is enough here)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current[key] = value
    return sections


def test_systemd_units_run_the_three_processes() -> None:
    units = {path.name: unit_keys(path) for path in UNITS.glob("*.service")}

    names = {"tollgate-console.service", "tollgate-dataplane@.service", "tollgate-worker.service"}
    assert set(units) == names
    starts = {name: unit["Service"]["ExecStart"].split()[1:3] for name, unit in units.items()}
    assert starts["tollgate-console.service"][0] == "serve-console"
    assert starts["tollgate-dataplane@.service"] == ["serve-api", "--host"]
    assert "--port %i" in units["tollgate-dataplane@.service"]["Service"]["ExecStart"]
    assert starts["tollgate-worker.service"] == ["worker"]
    for unit in units.values():
        assert unit["Service"]["EnvironmentFile"] == "/etc/tollgate/tollgate.env"
        assert unit["Service"]["Restart"] == "always"
        assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (the units' keys are checked above)")
    paths = _units_as_installed_here(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    complaints = [line for line in done.stderr.splitlines() if str(tmp_path) in line or ".service" in line]
    assert done.returncode == 0 and complaints == [], done.stderr
