"""USDT (TRC-20) top-ups on TRON: watch-only deposit addresses, a scanner that credits solidified
Transfer logs exactly once, "I've paid" claims, reconciliation and an operator-run sweeper.

Modules, by what they hold:

- `models`: the tables (deposit addresses, deposits, pending sightings, sweeps, the lease);
- `config`: operator settings kept in the database (network, node, contract, minimum, rate, xpub);
- `addresses`: address forms and watch-only derivation from an xpub, or an imported list;
- `rate`: micro-USDT to balance units, once, with the rate snapshot;
- `node`: the one way to talk to a node (tronpy and httpx), every failure as `NodeUnavailable`;
- `verification`: strict reading of untrusted TransactionInfo into findings;
- `crediting`: a finding becomes a deposit row and its ledger entry in one transaction;
- `scanner`, `lease`, `claims`, `reconciliation`: the worker job and the console's actions;
- `signing`, `sweeper`: only the operator's `tollgate tron sweep` imports these.
"""
