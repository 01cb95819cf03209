"""What a page module exports: its routes and, if it has one, its place in the navigation."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from dockwatch.value_class import frozen

from .context import Console
from .nav import NavItem

__all__ = ["NavItem", "Page"]


@frozen
class Page:
    """One page module's contribution: `routes(console)` builds its Starlette routes (full
    paths, `/console/...`); `nav` puts it in the navigation bar, in the order of `PAGES`."""

    name: str
    routes: Callable[[Console], list[BaseRoute]]
    nav: NavItem | None = None
