"""Fixtures for tests of several hosts: network namespaces on a bridge, the shared services offered
on the bridge's address, and data planes started inside the namespaces behind HAProxy.

Each "host" is a network namespace with an address of its own; its data plane has its own var/ dir
(so its own journal directory, as on a machine of its own). PostgreSQL and Redis listen on
127.0.0.1 only, so the hosts reach them through forwarders on the bridge address; the fake
upstream listens there directly.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from shared.settings import Settings
from tests.dataplane.helpers import CHAT_MODEL, Shop
from tests.support import balancer
from tests.support.balancer import Balancer
from tests.support.forwarder import TcpForwarder
from tests.support.netns import Host, Network, namespaces_refused
from tests.support.processes import DataPlaneProcess, free_port
from tests.support.servers import ServerThread
from tests.support.upstream import FakeUpstream

REDIS = ("127.0.0.1", 6379)
API_PORT = 8000  # every host's data plane listens on its own address, same port


@pytest.fixture
def backend() -> str:
    """Hosts share one PostgreSQL (a SQLite file is no database for several machines)."""
    return "postgres"


@pytest.fixture
def network() -> Iterator[Network]:
    """Hosts "a" and "b"; skipped where network namespaces cannot be made."""
    tag = f"tg{os.getpid() % 100000}"
    reason = namespaces_refused(f"{tag}-probe")
    if reason:
        pytest.skip(reason)
    reason = balancer.haproxy_unavailable()
    if reason:
        pytest.skip(reason)
    network = Network.create(tag, octet=os.getpid() % 200 + 20)
    try:
        network.add_host("a")
        network.add_host("b")
        yield network
    finally:
        network.remove()


@dataclass
class Services:
    """What every host reaches on the bridge address."""

    database_url: str
    redis_url: str
    redis_prefix: str
    upstream: FakeUpstream
    upstream_url: str


def _moved(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return parts._replace(netloc=netloc).geturl()


@pytest.fixture
def services(network: Network, settings: Settings) -> Iterator[Services]:
    db = urlsplit(settings.database_url)
    pg = TcpForwarder(network.gateway, (db.hostname or "127.0.0.1", db.port or 5432)).start()
    cache = TcpForwarder(network.gateway, REDIS).start()
    fake = FakeUpstream("multihost")
    server = ServerThread(fake.app(), log_level="critical", graceful_s=1.0, host=network.gateway).start()
    prefix = f"tollgate-test:{uuid.uuid4().hex}:"
    try:
        yield Services(
            _moved(settings.database_url, network.gateway, pg.port),
            f"redis://{network.gateway}:{cache.port}/0",
            prefix,
            fake,
            server.url,
        )
    finally:
        fake.reset()
        server.stop()
        cache.stop()
        pg.stop()
        _forget_redis_keys(prefix)


def _forget_redis_keys(prefix: str) -> None:
    client = redis.Redis(*REDIS)
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


@pytest.fixture
def shop(settings: Settings, services: Services) -> Shop:
    """One provider on the fake upstream (at the bridge address) and one chat model."""
    shop = Shop(settings)
    shop.provider("alpha", services.upstream_url)
    shop.model(CHAT_MODEL, "alpha", upstream_model="up-chat")
    return shop


@dataclass
class Cluster:
    """Data planes on the hosts, behind one HAProxy run from deploy/haproxy.cfg."""

    hosts: dict[str, Host]
    planes: dict[str, DataPlaneProcess] = field(default_factory=dict)
    balancer: Balancer | None = None
    stopped: list[DataPlaneProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def journals(self, name: str) -> Path:
        """The journal directory of one host's data plane (its local disk)."""
        return self.planes[name].settings.journals

    def restart(self, name: str) -> DataPlaneProcess:
        """A new data plane on that host (as systemd's Restart=always would start one)."""
        old = self.planes[name]
        self.stopped.append(old)
        self.planes[name] = old.again()
        return self.planes[name].start()

    def stop(self) -> dict[str, str]:
        """Stop every data plane (SIGTERM: settlements drained, leases given back); their logs."""
        logs = {name: plane.stop() for name, plane in self.planes.items()}
        for plane in self.stopped:
            plane.stop()
        return logs


@pytest.fixture
def start_cluster(
    network: Network, services: Services, settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., Cluster]]:
    """Start a data plane on each host (extra environment per host by name), then the balancer."""
    cluster = Cluster({host.namespace.rsplit("-", 1)[1]: host for host in network.hosts})

    def start(**env_by_host: dict[str, str]) -> Cluster:
        for name, host in cluster.hosts.items():
            host_settings = dataclasses.replace(
                settings, database_url=services.database_url, var_dir=tmp_path / f"host-{name}"
            )
            extra = {
                "REDIS_URL": services.redis_url,
                "TOLLGATE_REDIS_PREFIX": services.redis_prefix,
                **env_by_host.get(name, {}),
            }
            plane = DataPlaneProcess(host_settings, host.address, API_PORT, host.wrap, **extra)
            cluster.planes[name] = plane.start()
        bind = f"127.0.0.1:{free_port()}"
        servers = {name: f"{host.address}:{API_PORT}" for name, host in cluster.hosts.items()}
        text = balancer.for_servers(balancer.DEPLOY_CONFIG.read_text(), bind, servers)
        cluster.balancer = Balancer(text, tmp_path, f"http://{bind}").start()
        return cluster

    try:
        yield start
    finally:
        if cluster.balancer is not None:
            cluster.balancer.stop()
        cluster.stop()
