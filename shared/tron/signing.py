"""Private keys for the sweeper, derived from the operator's mnemonic at run time.

Only `tollgate tron sweep` imports this module: the console, the data plane and the worker never
do (a test checks it). The mnemonic is given on stdin, at a prompt or in TOLLGATE_TRON_MNEMONIC
for that one command, is never stored, and never appears in reprs or logs.
"""

from __future__ import annotations

from bip_utils import Bip39MnemonicValidator, Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from tronpy.keys import PrivateKey

from shared.errors import InvalidInput
from shared.settings import Secret
from shared.tron.addresses import FEE_WALLET_CHAIN


class Signer:
    """The account m/44'/195'/0' of a BIP-39 mnemonic: deposit keys (chain 0) and the fee wallet."""

    def __init__(self, mnemonic: Secret, passphrase: str = "") -> None:
        words = " ".join(str(mnemonic).split())
        if not Bip39MnemonicValidator().IsValid(words):
            raise InvalidInput("mnemonic", "not a valid BIP-39 mnemonic")
        seed = Bip39SeedGenerator(words).Generate(passphrase)
        self._account = Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)

    def __repr__(self) -> str:
        return "Signer(**********)"

    @property
    def xpub(self) -> str:
        """The account's xpub: must equal the one the gateway derives deposit addresses from."""
        return self._account.PublicKey().ToExtended()

    def key(self, index: int, chain: int = 0) -> PrivateKey:
        """The private key of child `chain/index`."""
        change = Bip44Changes.CHAIN_INT if chain == FEE_WALLET_CHAIN else Bip44Changes.CHAIN_EXT
        raw = self._account.Change(change).AddressIndex(index).PrivateKey().Raw().ToBytes()
        return PrivateKey(raw)

    def fee_key(self) -> PrivateKey:
        """The fee wallet's key (m/44'/195'/0'/1/0): it sends TRX to addresses that need it."""
        return self.key(0, chain=FEE_WALLET_CHAIN)
