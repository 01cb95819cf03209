"""Images stored in dockwatch, read straight from the stores (`dockwatch:REPO[:REF]`).

The cataloguer reads an image through this `BlobReader` with no HTTP round trip: manifests
come from SQL, layers stream from the blob store. Reads here are internal: they do not count as
pulls.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from dockwatch.image.errors import ReferenceNotFound
from dockwatch.model.digest import BlobNotFound, Digest

from .context import RegistryContext
from .errors import ManifestUnknown, NameUnknown
from .manifests import Manifests


class StoredImageReader:
    """Read-only access to one repository of this registry."""

    def __init__(self, ctx: RegistryContext, repository: str) -> None:
        self.ctx = ctx
        self.repository = repository
        self._manifests = Manifests(ctx)

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """Manifest bytes and media type for a tag or digest of the repository."""
        try:
            _, row = self._manifests.resolve(self.repository, ref)
        except (ManifestUnknown, NameUnknown) as exc:
            raise ReferenceNotFound(f"{self.repository}:{ref}") from exc
        with self.ctx.store.read() as uow:
            stored = uow.registry.manifest_content(row.digest)
        if stored is None:
            raise ReferenceNotFound(f"{self.repository}@{row.digest}")
        return stored.content, stored.media_type

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of a blob of the repository."""
        with self.ctx.store.read() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, self.repository)
            linked = None if r is None else uow.registry.linked_blob_size(r.id, digest)
        if linked is None:
            # child manifests of an index are manifests, not blobs: serve them too
            with self.ctx.store.read() as uow:
                stored = uow.registry.manifest_content(digest)
            if stored is not None:
                return io.BytesIO(stored.content)
            raise BlobNotFound(digest)
        return self.ctx.blobs.open(digest)
