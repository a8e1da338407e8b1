"""Pages of query results in one query each: fetch one row more than shown to know if more follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import Query

DEFAULT_PER_PAGE = 50
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    """One page of rows, and whether pages come before or after it."""

    items: list[Any]
    number: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def page_number(raw: str | None) -> int:
    """A page number from a query string: 1 for anything missing or invalid."""
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def paginate(query: Query, number: int, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """Run `query` once for page `number` (1-based)."""
    rows = list(query.limit(per_page + 1).offset((number - 1) * per_page))
    return Page(items=rows[:per_page], number=number, per_page=per_page, has_next=len(rows) > per_page)
