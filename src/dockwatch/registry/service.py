"""The registry service: one object the HTTP edge, the CLI and the scanner call."""

from __future__ import annotations

from datetime import timedelta

from .context import RegistryContext
from .gc import GcReport, collect
from .manifests import Manifests
from .tags import Tags
from .uploads import Uploads


class Registry:
    """Uploads, manifests, tags and gc over one set of stores."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx
        self.uploads = Uploads(ctx)
        self.manifests = Manifests(ctx)
        self.tags = Tags(ctx)

    def gc(self, grace: timedelta | None = None) -> GcReport:
        """Collect unreferenced blobs and abandoned uploads."""
        return collect(self.ctx, grace)
