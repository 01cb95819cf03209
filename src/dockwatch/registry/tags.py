"""Tag listing and the repository catalog, paginated with `n` and `last`."""

from __future__ import annotations

from dockwatch.value_class import frozen

from .context import RegistryContext
from .errors import PaginationInvalid

MAX_PAGE = 10_000


@frozen
class Page:
    """One page of names, and whether another follows."""

    items: list[str]
    more: bool


def parse_page_size(value: str | None) -> int | None:
    """`n` from a query string: None when absent; PaginationInvalid when not a number >= 0."""
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError as exc:
        raise PaginationInvalid(f"n must be a non-negative integer, got {value!r}") from exc
    if n < 0:
        raise PaginationInvalid(f"n must be a non-negative integer, got {value!r}")
    return min(n, MAX_PAGE)


def _page(items: list[str], n: int | None) -> Page:
    if n is not None and len(items) > n:
        return Page(items[:n], True)
    return Page(items, False)


class Tags:
    """Listing operations."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx

    def list(self, name: str, n: int | None, last: str | None) -> Page:
        """Tags of a repository in lexical order after `last`."""
        r = self.ctx.repository(name)
        if n == 0:
            return Page([], False)
        with self.ctx.store.read() as uow:
            items = uow.registry.list_tags(r.id, last, None if n is None else n + 1)
        return _page(items, n)

    def catalog(self, n: int | None, last: str | None) -> Page:
        """Repository names in lexical order after `last`."""
        if n == 0:
            return Page([], False)
        with self.ctx.store.read() as uow:
            items = uow.registry.list_repositories(
                self.ctx.tenant, last, None if n is None else n + 1
            )
        return _page(items, n)
