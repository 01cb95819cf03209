"""What every image transport shares: the `BlobReader` protocol and small-blob reading."""

from __future__ import annotations

from typing import IO, Any, BinaryIO, Protocol, runtime_checkable

from dockwatch.image.errors import ContentMismatch, ManifestInvalid
from dockwatch.model.digest import ALGORITHMS, Digest, DigestInvalid, compute, parse_digest

#: Manifests and configs are small; anything larger is hostile.
MAX_MANIFEST_BYTES = 4 << 20


@runtime_checkable
class BlobReader(Protocol):
    """Read-only access to one repository's manifests and blobs."""

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """Manifest bytes and media type for a tag or digest; raises `ReferenceNotFound`."""
        ...

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob's bytes; raises `BlobNotFound`."""
        ...


def read_small(stream: IO[bytes], what: str) -> bytes:
    with stream:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"{what} larger than {MAX_MANIFEST_BYTES} bytes")
    return data


def diff_ids(config: dict[str, Any]) -> list[Digest]:
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        return []
    try:
        return [parse_digest(str(d)) for d in rootfs["diff_ids"]]
    except DigestInvalid:
        return []


def check_digest(data: bytes, digest: str, what: str) -> None:
    """Raise `ContentMismatch` unless `data` has `digest` (an algorithm dockwatch computes;
    others are left to the source)."""
    algorithm = digest.partition(":")[0]
    if algorithm not in ALGORITHMS:
        return
    actual = compute(data, algorithm)
    if actual != digest:
        raise ContentMismatch(what, digest, actual)
