"""The root of dockwatch's error hierarchy.

Every family (registry, blob store, catalog, feeds, versions) subclasses one of these, carries its
data as fields, and is rendered to the outside only by the API and CLI adapters.
"""

from __future__ import annotations


class DockwatchError(Exception):
    """Base of every error dockwatch raises on purpose."""


class NotFound(DockwatchError):
    """A named thing does not exist."""


class Conflict(DockwatchError):
    """The request contradicts the stored state."""


class InvalidInput(DockwatchError):
    """The caller sent something malformed; retrying the same input cannot succeed."""


class BackendUnavailable(DockwatchError):
    """A storage backend failed (disk full, database unreachable); the request may be retried."""
