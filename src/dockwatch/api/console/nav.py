"""A link of the navigation bar."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link of the navigation bar: its label and path (under /console)."""

    label: str
    path: str
