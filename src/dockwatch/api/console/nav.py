"""A link of the navigation bar."""

from __future__ import annotations

from dockwatch.value_class import frozen


@frozen
class NavItem:
    """A link of the navigation bar: its label and path (under /console)."""

    label: str
    path: str
