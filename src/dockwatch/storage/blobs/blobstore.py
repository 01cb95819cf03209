"""The `BlobStore` protocol: content-addressed bytes, nothing else.

Backends never parse manifests and hold no metadata: which repository may see a blob, and who
references it, lives in SQL. The filesystem backend's layout under the data folder::

    blobs/
      sha256/
        ab/
          abcdef0123...          one file per blob, named by its hex digest, written once
      sha512/...
    uploads/
      <upload id>                bytes received so far for an upload session
    tmp/                         scratch space for atomic writes

A blob becomes visible only by an atomic rename of a fully written, fsynced file whose digest was
verified, so a reader never sees a partial blob, whatever happens to the writer.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dockwatch.errors import BackendUnavailable, DockwatchError, NotFound
from dockwatch.model.digest import BlobNotFound, Digest
from dockwatch.value_class import frozen

__all__ = ["BlobNotFound"]


class BlobStoreError(DockwatchError):
    """Base of blob store errors; `backend` names the store that raised it."""

    backend: str = ""


class UploadNotFound(BlobStoreError, NotFound):
    """No upload in progress with that id."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"upload unknown: {upload_id}")
        self.upload_id = upload_id


class DigestMismatch(BlobStoreError):
    """The bytes written do not hash to the digest the client promised."""

    def __init__(self, expected: Digest, actual: Digest) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class StorageFull(BlobStoreError, BackendUnavailable):
    """The backend ran out of space; nothing partial was kept."""


@frozen
class BlobInfo:
    """What the store knows about one blob."""

    digest: Digest
    size: int


class BlobWriter(Protocol):
    """Appends to one upload; `commit` makes it a blob, `cancel` throws it away."""

    upload_id: str

    def size(self) -> int:
        """Bytes received so far."""
        ...

    def write(self, data: bytes) -> None:
        """Append `data`; raises `StorageFull` (after undoing the partial write) when out of space."""
        ...

    def truncate(self, size: int) -> None:
        """Drop everything after `size` bytes (undo a failed request's partial chunk)."""
        ...

    def prepare(self, expected: Digest) -> BlobInfo:
        """Make the bytes durable and verify they hash to `expected` (raises DigestMismatch)."""
        ...

    def publish(self) -> None:
        """Make a prepared upload visible as its blob, atomically."""
        ...

    def commit(self, expected: Digest) -> BlobInfo:
        """`prepare` then `publish`."""
        ...

    def cancel(self) -> None:
        """Remove the upload's bytes."""
        ...

    def close(self) -> None:
        """Release file handles; the upload stays resumable."""
        ...


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed blob storage."""

    name: str

    def stat(self, digest: Digest) -> BlobInfo | None:
        """Size of a stored blob, or None."""
        ...

    def missing(self, digests: Collection[Digest]) -> set[Digest]:
        """Those of `digests` the store holds no blob for (a manifest's references, a batch
        of layers asked about): a remote store asks for them side by side."""
        ...

    def open(self, digest: Digest, offset: int = 0) -> BinaryIO:
        """A readable stream of the blob from `offset`; raises `BlobNotFound`."""
        ...

    def writer(self, upload_id: str, create: bool = False) -> BlobWriter:
        """The writer of an upload; raises `UploadNotFound` unless `create`."""
        ...

    def upload_ids(self) -> list[tuple[str, float]]:
        """Every upload in progress with its last-modified time (epoch seconds), for gc."""
        ...

    def delete(self, digest: Digest) -> None:
        """Remove a blob (gc only); missing is not an error."""
        ...

    def digests(self) -> list[Digest]:
        """Every stored blob digest (gc only)."""
        ...


@runtime_checkable
class LocalBlobPaths(Protocol):
    """Optional ability: blobs are plain local files, so the HTTP edge can serve them directly."""

    def local_path(self, digest: Digest) -> Path:
        """The file holding `digest` (which may not exist)."""
        ...


@runtime_checkable
class PresignedBlobs(Protocol):
    """Optional ability: a blob can be fetched from the store itself with a signed URL."""

    def presigned_url(self, digest: Digest, expires_seconds: int) -> str:
        """A GET URL of `digest` valid for `expires_seconds`."""
        ...


@runtime_checkable
class ReachableBlobs(Protocol):
    """Optional ability: the store can say whether it answers (health checks)."""

    def ping(self) -> None:
        """Raise unless the store can be read and written."""
        ...
