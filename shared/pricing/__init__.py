"""Price sync: upstream costs from price sources, sale prices from markup rules, price versions.

`sources` reads price data (the installed genai-prices data, an OpenRouter-style catalogue feed,
a LiteLLM-style cost map) into meter maps; `matching` finds each route's entry; `markup` turns
costs into sale prices; `settings` keeps the operator's choices in the `kv` table; `sync` plans
and applies the changes, holding large ones for approval.
"""
