"""Registry events written to the outbox in the same transaction as the change they report."""

from __future__ import annotations

from enum import StrEnum

from dockwatch.model.events import ManifestDeleted, ManifestPushed, TagChanged


class RegistryEvent(StrEnum):
    """Outbox `event_type` values the registry emits."""

    MANIFEST_PUSHED = ManifestPushed.NAME
    """A manifest was pushed (also a re-push of a stored digest, which moves `lastPushedAt`)."""
    MANIFEST_DELETED = ManifestDeleted.NAME
    """A manifest was deleted from a repository (its tags with it)."""
    TAG_CHANGED = TagChanged.NAME
    """A tag was created, moved to another digest, or removed (`digest` null)."""
