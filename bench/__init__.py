"""The data-plane benchmark: `python -m bench` (see bench/README.md)."""
