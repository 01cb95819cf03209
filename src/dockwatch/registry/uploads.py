"""Blob uploads: monolithic, chunked and cross-repository mounts, verified before visible.

The bytes go to the blob store's upload area; SQL records the session so it survives a restart
and gc can find abandoned ones. A blob is linked to the repository only after the store has
verified and published it.
"""

from __future__ import annotations

import secrets
import threading
from typing import BinaryIO

from dockwatch.model.digest import BlobNotFound, Digest, DigestInvalid, parse_digest
from dockwatch.storage.blobs.blobstore import (
    BlobInfo,
    BlobWriter,
    DigestMismatch,
    UploadNotFound,
)
from dockwatch.value_class import frozen

from .context import RegistryContext
from .errors import BlobUnknown, BlobUploadInvalid, BlobUploadUnknown, DigestInvalidError
from .names import check_name


@frozen
class MountResult:
    """Either the blob was mounted (`mounted`) or an upload was started instead."""

    mounted: bool
    digest: Digest | None = None
    upload_id: str | None = None


def parse_client_digest(value: str) -> Digest:
    """A digest from a query parameter, mapped to the spec's DIGEST_INVALID."""
    try:
        return parse_digest(value)
    except DigestInvalid as exc:
        raise DigestInvalidError(str(exc), value) from exc


class Uploads:
    """Upload sessions of every repository."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def start(self, name: str) -> str:
        """Open an upload session (creating the repository on first push)."""
        check_name(name)
        upload_id = secrets.token_hex(16)
        with self.ctx.store.write() as uow:
            r = uow.registry.ensure_repository(self.ctx.tenant, name, self.ctx.clock.now())
            uow.registry.create_upload(self.ctx.tenant, upload_id, r.id, self.ctx.clock.now())
        self.ctx.blobs.writer(upload_id, create=True).close()
        return upload_id

    def claim(self, name: str, upload_id: str) -> BlobWriter:
        """The writer of a session, held exclusively until `release`.

        Two requests writing one session at once would interleave or undo each other's bytes;
        the second is refused instead of waiting behind a client that may never finish.
        """
        with self._busy_lock:
            if upload_id in self._busy:
                raise BlobUploadInvalid("another request is writing this upload", True)
            self._busy.add(upload_id)
        try:
            return self.writer(name, upload_id)
        except BaseException:
            self.release(upload_id)
            raise

    def release(self, upload_id: str, writer: BlobWriter | None = None) -> None:
        """End an exclusive claim."""
        if writer is not None:
            writer.close()
        with self._busy_lock:
            self._busy.discard(upload_id)

    def writer(self, name: str, upload_id: str) -> BlobWriter:
        """The writer of an open session of repository `name`."""
        check_name(name)
        with self.ctx.store.read() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            owner = uow.registry.upload_repository(upload_id)
        if r is None or owner != r.id:
            raise BlobUploadUnknown(upload_id)
        try:
            return self.ctx.blobs.writer(upload_id)
        except UploadNotFound as exc:
            raise BlobUploadUnknown(upload_id) from exc

    def complete(self, name: str, upload_id: str, writer: BlobWriter, digest: Digest) -> BlobInfo:
        """Verify and publish the upload's bytes as `digest`, then link it to the repository.

        On a digest mismatch the session is cancelled, as distribution does: its bytes can
        never become the promised blob.
        """
        try:
            info = writer.prepare(digest)
        except DigestMismatch as exc:
            self.cancel(name, upload_id, writer)
            raise DigestInvalidError(str(exc), digest) from exc
        # publish inside the write transaction: gc deletes files only under the same lock after
        # checking for rows, so a blob can never be published and collected at once
        with self.ctx.store.write() as uow:
            writer.publish()
            r = uow.registry.ensure_repository(self.ctx.tenant, name, self.ctx.clock.now())
            uow.registry.link_blob(self.ctx.tenant, r.id, digest, info.size, self.ctx.clock.now())
            uow.registry.delete_upload(upload_id)
        return info

    def cancel(self, name: str, upload_id: str, writer: BlobWriter | None = None) -> None:
        """Abandon a session and remove its bytes."""
        w = writer if writer is not None else self.writer(name, upload_id)
        w.cancel()
        with self.ctx.store.write() as uow:
            uow.registry.delete_upload(upload_id)

    def mount(self, name: str, digest: Digest, from_name: str | None) -> MountResult:
        """Link a blob of `from_name` (or, without it, of any repository) into `name`.

        When the blob is not available to mount, a normal upload session starts instead, as
        the spec asks.
        """
        check_name(name)
        with self.ctx.store.write() as uow:
            size: int | None
            if from_name is not None:
                check_name(from_name)
                source = uow.registry.get_repository(self.ctx.tenant, from_name)
                size = None if source is None else uow.registry.linked_blob_size(source.id, digest)
            else:
                size = uow.registry.blob_size(digest)
            if size is not None and self.ctx.blobs.stat(digest) is not None:
                r = uow.registry.ensure_repository(self.ctx.tenant, name, self.ctx.clock.now())
                uow.registry.link_blob(self.ctx.tenant, r.id, digest, size, self.ctx.clock.now())
                return MountResult(True, digest)
        return MountResult(False, upload_id=self.start(name))

    def stat_blob(self, name: str, digest: Digest) -> int:
        """Size of a blob visible in the repository; raises BlobUnknown (also for an unknown
        repository, as distribution answers)."""
        size = self.linked_size(name, digest)
        if self.ctx.blobs.stat(digest) is None:
            raise BlobUnknown(digest)
        return size

    def linked_size(self, name: str, digest: Digest) -> int:
        """Size of a blob linked to the repository, as recorded, without asking the blob
        store: the caller opens it next (`open_linked`). Raises BlobUnknown."""
        check_name(name)
        with self.ctx.store.read() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            size = None if r is None else uow.registry.linked_blob_size(r.id, digest)
        if size is None:
            raise BlobUnknown(digest)
        return size

    def open_linked(self, digest: Digest, offset: int) -> BinaryIO:
        """A linked blob's bytes from `offset`; BlobUnknown when its bytes are gone (a gc
        killed inside its transaction may leave rows whose bytes it had removed)."""
        try:
            return self.ctx.blobs.open(digest, offset)
        except BlobNotFound as exc:
            raise BlobUnknown(digest) from exc

    def delete_blob(self, name: str, digest: Digest) -> None:
        """Unlink a blob from the repository (gc removes the bytes once nothing references it)."""
        check_name(name)
        with self.ctx.store.write() as uow:
            r = uow.registry.get_repository(self.ctx.tenant, name)
            if r is None or not uow.registry.unlink_blob(r.id, digest):
                raise BlobUnknown(digest)
