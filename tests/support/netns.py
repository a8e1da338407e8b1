"""Hosts for tests: Linux network namespaces on one bridge, made with iproute2.

    network = Network.create("tg123", octet=57)      # bridge tg123br, 10.213.57.1/24 on our side
    a = network.add_host("a")                        # namespace tg123-a at 10.213.57.2
    subprocess.run([*a.wrap, "ip", "addr"])          # a command run "on" host a
    network.remove()                                 # namespaces, veths, bridge; idempotent

Each host has its own loopback and address, so a process in it is reached the way a data plane
on another machine is: over the network, at an address of its own. This namespace (the test's)
keeps the bridge address, where the shared services (database, Redis, the fake upstream) are
offered to every host.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.213"


class NetworkError(RuntimeError):
    """An `ip` command failed."""


def ip(*args: str) -> str:
    """Run `ip ARGS`; its output, or NetworkError with what it printed."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def namespaces_refused(probe: str) -> str | None:
    """Why network namespaces cannot be made here (None when `ip netns add` works)."""
    try:
        ip("netns", "add", probe)
    except FileNotFoundError:
        return "iproute2's `ip` is not installed"
    except NetworkError as exc:
        return f"network namespaces are not permitted here ({exc})"
    ip("netns", "del", probe)
    return None


@dataclass(frozen=True)
class Host:
    """One network namespace with one address on the bridge."""

    namespace: str
    address: str

    @property
    def wrap(self) -> tuple[str, ...]:
        """The prefix that runs a command inside this host's namespace."""
        return ("ip", "netns", "exec", self.namespace)


@dataclass
class Network:
    """A bridge in the test's namespace and the hosts plugged into it."""

    tag: str  # a short unique prefix of every name (interface names have 15 characters at most)
    octet: int  # the third octet of this network's /24
    hosts: list[Host] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    @property
    def gateway(self) -> str:
        """The bridge's address: where the hosts reach services of the test's namespace."""
        return f"{SUBNET}.{self.octet}.1"

    @classmethod
    def create(cls, tag: str, octet: int) -> Network:
        """The bridge, up, with the gateway address."""
        network = cls(tag, octet)
        ip("link", "add", network.bridge, "type", "bridge")
        ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
        ip("link", "set", network.bridge, "up")
        return network

    def add_host(self, name: str) -> Host:
        """A namespace wired to the bridge by a veth pair, with the next free address."""
        host = Host(f"{self.tag}-{name}", f"{SUBNET}.{self.octet}.{len(self.hosts) + 2}")
        outside, inside = f"{self.tag}{name}0", f"{self.tag}{name}1"
        ip("netns", "add", host.namespace)
        self.hosts.append(host)
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", host.namespace)
        ip("link", "set", outside, "master", self.bridge)
        ip("link", "set", outside, "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", inside)
        ip("-n", host.namespace, "link", "set", inside, "up")
        ip("-n", host.namespace, "link", "set", "lo", "up")
        return host

    def remove(self) -> None:
        """Kill what still runs in the hosts, delete them (their veths go too) and the bridge."""
        for host in self.hosts:
            _kill_inside(host)
            _quietly("netns", "del", host.namespace)
        self.hosts.clear()
        _quietly("link", "del", self.bridge)


def _kill_inside(host: Host) -> None:
    """SIGKILL every process left in the host's namespace (the test started them all)."""
    try:
        pids = ip("netns", "pids", host.namespace).split()
    except NetworkError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _quietly(*args: str) -> None:
    """Cleanup: a thing already gone is fine."""
    try:
        ip(*args)
    except NetworkError:
        pass
