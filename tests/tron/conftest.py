"""Fixtures for TRON deposits: a running fake node, a configured gateway, customers with addresses."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.accounts import create_user
from shared.models import User
from shared.settings import Settings
from shared.tron import addresses, config
from shared.tron.models import TronAddress
from shared.tron.scanner import Scanner
from tests.tron.fake_node import FakeTronNode

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
XPUB = (
    "xpub6D1AabNHCupeiLM65ZR9UStMhJ1vCpyV4XbZdyhMZBiJXALQtmn9p42VTQckoHVn8W"
    "NqS7dqnJokZHAHcHGoaQgmv8D45oNUKx6DZMNZBCd"
)
VECTORS = [
    "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
    "TSeJkUh4Qv67VNFwY8LaAxERygNdy6NQZK",
    "TYJPRrdB5APNeRs4R7fYZSwW3TcrTKw2gx",
]
SENDER = "TCNkawTmcQgYSU8nP8cHswT1QPjharxJr7"  # PrivateKey(b"\x01" * 32)
STRANGER = "THHsfg2eNiv6MSXC4y5d4t5wkvRVADRKiF"  # PrivateKey(b"\x02" * 32)
T0 = dt.datetime(2026, 11, 22, 12, 0, 0)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to something other than loopback fails the test."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> object:
        if isinstance(address, tuple):
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise AssertionError(f"test tried to connect to {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.delenv("TRONPY_HTTP_PROVIDER_URI", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeTronNode]:
    node = FakeTronNode().start()
    yield node
    node.stop()


@dataclass
class Clock:
    """A settable clock for the scanner (naive UTC)."""

    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tron(settings: Settings, fake: FakeTronNode) -> config.TronConfig:
    """TRON deposits configured against the fake node: xpub, 5 USDT minimum, the peg."""
    fake.mine(10)
    fake.solidify()
    return config.update(
        {
            "node_url": fake.url,
            "xpub": XPUB,
            "min_deposit_micro": "5",
            "api_key": "test-api-key",
            "start_block": "100",
        },
        settings.secret_key,
    )


@dataclass
class Customer:
    user: User
    address: TronAddress

    @property
    def balance(self) -> int:
        return User.get_by_id(self.user.id).balance


def make_customer(email: str, xpub: str = XPUB) -> Customer:
    user = create_user(email)
    return Customer(user, addresses.assign(user.id, xpub))


@pytest.fixture
def alice(tron: config.TronConfig) -> Customer:
    return make_customer("alice@example.com")


@pytest.fixture
def bob(tron: config.TronConfig, alice: Customer) -> Customer:
    return make_customer("bob@example.com")


@pytest.fixture
def scanner(settings: Settings, clock: Clock) -> Scanner:
    return Scanner(settings, clock=clock)
