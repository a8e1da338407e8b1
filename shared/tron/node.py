"""The one way Tollgate talks to a TRON node: tronpy for the full-node API, httpx for TronGrid v1
and for JSON-RPC (`eth_getLogs` at `{url}jsonrpc`).

Every answer is untrusted input: shapes are checked here, and every transport failure, HTTP error,
non-JSON body, `{"Error": …}` body, JSON-RPC error object or unexpected shape becomes
`NodeUnavailable` (`LogRangeTooLarge` when a smaller `eth_getLogs` range may pass). "Not found" is
not an error (`None` / an empty list). The API key goes in the `TRON-PRO-API-KEY` header on
every call; tronpy's built-in shared keys are never used, and a client is never built without an
explicit URL (tronpy would otherwise fall back to mainnet TronGrid).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from tronpy import Tron
from tronpy.abi import trx_abi
from tronpy.exceptions import ApiError, BugInJavaTron, TransactionNotFound, TvmError, UnknownError
from tronpy.keys import to_base58check_address
from tronpy.providers import HTTPProvider

from shared.settings import Secret

API_KEY_HEADER = "TRON-PRO-API-KEY"
BLOCK_RE = re.compile(r"^Num:(\d{1,12}),ID:([0-9a-f]{64})$")
TXID_RE = re.compile(r"^[0-9a-fA-F]{64}$")
ZERO_OWNER = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"
V1_PAGE_LIMIT = 50
V1_MAX_PAGES = 50
# java-tron answers every JSON-RPC error with HTTP 200; these codes mean "ask for less": invalid
# params (the block range is over the limit), limit exceeded, response too large.
JSONRPC_TOO_MUCH = (-32602, -32005, -32003)


class NodeUnavailable(Exception):
    """A node call failed or answered something we cannot trust; `status` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def rate_limited(self) -> bool:
        """True for 403/429 (TronGrid's quota and frequency limits)."""
        return self.status in (403, 429)


class LogRangeTooLarge(NodeUnavailable):
    """`eth_getLogs` refused a filter as too big; the same filter over fewer blocks may pass."""


@dataclass(frozen=True)
class Heads:
    """The latest block number and the latest solidified block number."""

    head: int
    solid: int


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Turn anything a node call can raise into NodeUnavailable (with the HTTP status if any)."""
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise NodeUnavailable(f"{what}: HTTP {status}", status) from exc
    except httpx.HTTPStatusError as exc:
        raise NodeUnavailable(f"{what}: HTTP {exc.response.status_code}", exc.response.status_code) from exc
    except (requests.RequestException, httpx.HTTPError) as exc:
        raise NodeUnavailable(f"{what}: {type(exc).__name__}") from exc
    except (ApiError, BugInJavaTron, UnknownError, TvmError) as exc:
        raise NodeUnavailable(f"{what}: node error {str(exc)[:200]}") from exc
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise NodeUnavailable(f"{what}: unexpected answer ({type(exc).__name__})") from exc


class TronNode:
    """A node client bound to one URL and API key (sync: the worker and the CLI use threads)."""

    def __init__(self, url: str, api_key: Secret | str = "", timeout_s: float = 10.0) -> None:
        if not url:
            raise ValueError("a TRON node URL must be configured explicitly")
        self.url = url if url.endswith("/") else url + "/"
        key = str(api_key)
        provider = HTTPProvider(self.url, timeout=timeout_s, api_key=key or None)
        # tronpy only sends a key when the URL contains "trongrid", and then falls back to its
        # own shared keys when none is given: switch that off and send ours on every call.
        provider.use_api_key = False
        provider.sess.headers.pop("Tron-Pro-Api-Key", None)
        if key:
            provider.sess.headers[API_KEY_HEADER] = key
        self.tron = Tron(provider)
        headers = {API_KEY_HEADER: key} if key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        """Release both HTTP clients."""
        self.http.close()
        self.tron.provider.sess.close()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a full-node API call; an `{"Error": …}` body is a failure."""
        with guarded(path):
            answer = self.tron.provider.make_request(path, body)
        if isinstance(answer, dict) and "Error" in answer:
            raise NodeUnavailable(f"{path}: node error {str(answer['Error'])[:200]}")
        return answer

    def heads(self) -> Heads:
        """Head and solid block numbers, from one `getnodeinfo` call."""
        info = self.post("wallet/getnodeinfo", {})
        if not isinstance(info, dict):
            raise NodeUnavailable("getnodeinfo: not an object")
        head, solid = _block_num(info.get("block")), _block_num(info.get("solidityBlock"))
        if solid > head:
            raise NodeUnavailable("getnodeinfo: solid block above head")
        return Heads(head, solid)

    def block_infos(self, number: int, solid: bool = True) -> list[Any]:
        """The TransactionInfo list of one block (`visible` addresses); [] for an empty block."""
        prefix = "walletsolidity" if solid else "wallet"
        answer = self.post(f"{prefix}/gettransactioninfobyblocknum", {"num": number, "visible": True})
        if answer == {}:
            return []
        if not isinstance(answer, list):
            raise NodeUnavailable(f"gettransactioninfobyblocknum {number}: not a list")
        return answer

    def transaction_info(self, txid: str, solid: bool = True) -> dict[str, Any] | None:
        """The (solidified) TransactionInfo of a transaction, or None if the node has none yet."""
        with guarded("gettransactioninfobyid"):
            try:
                if solid:
                    info = self.tron.get_solid_transaction_info(txid)
                else:
                    info = self.tron.get_transaction_info(txid)
            except TransactionNotFound:
                return None
        if not isinstance(info, dict):
            raise NodeUnavailable("gettransactioninfobyid: not an object")
        return info

    def token_balance(self, contract: str, address: str) -> int:
        """`balanceOf(address)` of a TRC-20 contract, in its smallest unit."""
        parameter = trx_abi.encode_single("address", to_base58check_address(address)).hex()
        with guarded("balanceOf"):
            answer = self.tron.trigger_constant_contract(
                ZERO_OWNER, contract, "balanceOf(address)", parameter
            )
            value = int(answer["constant_result"][0], 16)
        return value

    def token_decimals(self, contract: str) -> int:
        """`decimals()` of a TRC-20 contract."""
        with guarded("decimals"):
            answer = self.tron.trigger_constant_contract(ZERO_OWNER, contract, "decimals()", "")
            value = int(answer["constant_result"][0], 16)
        return value

    def trx_balance(self, address: str) -> int | None:
        """The account's TRX balance in sun; None if the account was never activated."""
        answer = self.post("wallet/getaccount", {"address": address, "visible": True})
        if not isinstance(answer, dict):
            raise NodeUnavailable("getaccount: not an object")
        if not answer:
            return None
        balance = answer.get("balance", 0)
        if not isinstance(balance, int) or balance < 0:
            raise NodeUnavailable("getaccount: bad balance")
        return balance

    def trc20_history(self, address: str, contract: str, min_ts: int) -> list[dict[str, Any]]:
        """Confirmed TRC-20 transfers of `address` since `min_ts` (ms), all pages of TronGrid v1."""
        params: dict[str, Any] = {
            "only_confirmed": "true",
            "contract_address": contract,
            "limit": V1_PAGE_LIMIT,
            "order_by": "block_timestamp,asc",
            "min_timestamp": min_ts,
        }
        items: list[dict[str, Any]] = []
        for _page in range(V1_MAX_PAGES):
            page = self._v1_page(f"v1/accounts/{address}/transactions/trc20", params)
            items.extend(page["data"])
            fingerprint = page.get("meta", {}).get("fingerprint")
            if not fingerprint or not page["data"]:
                return items
            params = {**params, "fingerprint": fingerprint}
        raise NodeUnavailable("trc20 history: too many pages")

    def get_logs(self, log_filter: dict[str, Any]) -> list[Any]:
        """The raw entries `eth_getLogs` returns for one filter (each still to be checked)."""
        result = self._jsonrpc("eth_getLogs", [log_filter])
        if not isinstance(result, list):
            raise NodeUnavailable("eth_getLogs: result is not a list")
        return result

    def _jsonrpc(self, method: str, params: list[Any]) -> Any:
        with guarded(method):
            request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            response = self.http.post("jsonrpc", json=request)
            response.raise_for_status()
            answer = response.json()
        if not isinstance(answer, dict):
            raise NodeUnavailable(f"{method}: not a JSON-RPC response")
        if answer.get("error") is not None:
            raise _jsonrpc_error(method, answer["error"])
        if "result" not in answer:
            raise NodeUnavailable(f"{method}: JSON-RPC response without a result")
        return answer["result"]

    def _v1_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        with guarded(path):
            response = self.http.get(path, params=params)
            response.raise_for_status()
            page = response.json()
        if (
            not isinstance(page, dict)
            or page.get("success") is not True
            or not isinstance(page.get("data"), list)
        ):
            raise NodeUnavailable(f"{path}: unexpected answer")
        if not isinstance(page.get("meta", {}), dict):
            raise NodeUnavailable(f"{path}: bad meta")
        return page


def _jsonrpc_error(method: str, error: Any) -> NodeUnavailable:
    """The exception for a JSON-RPC error object (whatever its shape)."""
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    text = f"{method}: JSON-RPC error {code}: {message[:200]}"
    if code in JSONRPC_TOO_MUCH:
        return LogRangeTooLarge(text)
    return NodeUnavailable(text)


def _block_num(text: object) -> int:
    match = BLOCK_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise NodeUnavailable("getnodeinfo: unexpected block field")
    return int(match.group(1))
