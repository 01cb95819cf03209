"""Content-addressed blob storage behind the `BlobStore` protocol."""

from __future__ import annotations

from pathlib import Path

from dockwatch.errors import InvalidInput
from dockwatch.storage.blobs.blobstore import BlobStore

ADDRESSING_STYLES = ("auto", "path", "virtual")


def open_blob_store(
    blob_url: str | None, data_dir: Path, addressing_style: str = "auto"
) -> BlobStore:
    """The blob store a setting names: files in `data_dir` by default, or `s3://bucket/prefix`."""
    if not blob_url:
        from dockwatch.storage.blobs.filesystem import FilesystemBlobStore

        return FilesystemBlobStore(data_dir)
    if blob_url.startswith("s3://"):
        from dockwatch.storage.blobs.s3 import S3BlobStore

        return S3BlobStore.from_url(blob_url, addressing_style)
    raise InvalidInput(
        f"blob URL must be s3://bucket/prefix (or unset for files), got {blob_url!r}"
    )
