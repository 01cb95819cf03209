"""Registry domain errors. `api/oci/codes.py` maps each to its spec error code and status."""

from __future__ import annotations

from collections.abc import Sequence

from dockwatch.errors import Conflict, InvalidInput, NotFound


class OciError(Exception):
    """Mixin marking errors that carry an OCI `detail` object."""

    detail: object = None


class NameUnknown(NotFound, OciError):
    """The repository does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"repository name not known to registry: {name}")
        self.detail = {"name": name}


class BlobUnknown(NotFound, OciError):
    """The blob is not in the repository."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"blob unknown to registry: {digest}")
        self.detail = {"digest": digest}


class BlobUploadUnknown(NotFound, OciError):
    """No such upload session in this repository."""

    def __init__(self, upload_id: str) -> None:
        super().__init__("blob upload unknown to registry")
        self.detail = {"uuid": upload_id}


class BlobUploadInvalid(InvalidInput, OciError):
    """A chunk out of order or a malformed Content-Range."""

    def __init__(self, reason: str, range_not_satisfiable: bool = False) -> None:
        super().__init__(f"blob upload invalid: {reason}")
        self.range_not_satisfiable = range_not_satisfiable


class DigestInvalidError(InvalidInput, OciError):
    """The content does not match the digest given, or the digest is malformed."""

    def __init__(self, message: str, digest: str | None = None) -> None:
        super().__init__(message)
        self.detail = {"digest": digest} if digest else None


class SizeInvalid(InvalidInput, OciError):
    """Content-Length disagrees with the content, or the content is too large."""


class ManifestUnknown(NotFound, OciError):
    """No manifest for that tag or digest."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"manifest unknown: {reference}")
        self.detail = {"reference": reference}


class ManifestBlobUnknown(InvalidInput, OciError):
    """A manifest references blobs or manifests the repository lacks."""

    def __init__(self, digests: Sequence[str]) -> None:
        super().__init__("blob unknown to registry: " + ", ".join(digests))
        self.digests = list(digests)


class ManifestInvalidError(InvalidInput, OciError):
    """The manifest failed validation."""


class ManifestTooLarge(ManifestInvalidError):
    """The manifest exceeds the size limit."""


class TagInvalidError(InvalidInput, OciError):
    """A tag that breaks the grammar, or a schema 1 manifest tagged differently from the URL."""


class TagImmutable(TagInvalidError):
    """A push that would move a tag of an IMMUTABLE repository: ECR answers TAG_INVALID on
    `/v2` with this message (and ImageTagAlreadyExistsException on PutImage)."""

    def __init__(self, tag: str, name: str) -> None:
        super().__init__(
            f"The image tag '{tag}' already exists in the '{name}' repository and cannot be "
            "overwritten because the repository is immutable."
        )
        self.tag = tag
        self.detail = {"tag": tag}


class Denied(Conflict, OciError):
    """The operation is refused (an immutable tag, say)."""


class Unsupported(OciError, InvalidInput):
    """The operation is not supported."""


class PaginationInvalid(InvalidInput, OciError):
    """`n` is not a valid page size."""
