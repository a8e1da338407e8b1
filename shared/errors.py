"""Domain errors shared by the console, the CLI and the data plane."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input from an operator or customer; `field` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    """A named thing (user, key, provider, model) does not exist."""

    def __init__(self, what: str, name: object) -> None:
        super().__init__(f"no {what} {name!s}")
        self.what = what
        self.name = name
