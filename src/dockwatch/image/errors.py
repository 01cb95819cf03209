"""Errors of the image-reading family; every one carries the data that explains it."""

from __future__ import annotations

from dockwatch.errors import DockwatchError, InvalidInput, NotFound
from dockwatch.model.digest import BlobNotFound
from dockwatch.model.oci import ManifestInvalid

__all__ = [
    "IMAGE_READ_ERRORS",
    "AuthenticationFailed",
    "BlobNotFound",
    "ImageError",
    "ManifestInvalid",
    "NotRunnable",
    "PlatformNotFound",
    "ReferenceNotFound",
    "RemoteRegistryError",
    "SourceInvalid",
]


class ImageError(DockwatchError):
    """Base of errors raised while locating or reading an image."""


class NotRunnable(ImageError):
    """The reference names an artifact (signature, attestation, SBOM, Helm chart, ...), not an
    image: callers skip it rather than count it as a failed scan."""

    def __init__(self, kind: str, media_type: str) -> None:
        super().__init__(f"not a runnable image: {kind} ({media_type})")
        self.kind = kind
        self.media_type = media_type


class PlatformNotFound(ImageError, NotFound):
    """An index has no image for the requested platform."""

    def __init__(self, wanted: str, available: tuple[str, ...]) -> None:
        super().__init__(
            f"no image for platform {wanted}; index has {', '.join(available) or 'none'}"
        )
        self.wanted = wanted
        self.available = available


class SourceInvalid(ImageError, InvalidInput):
    """A source string (`oci:DIR:TAG`, `docker://...`) is malformed or names an unknown transport."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"invalid image source {source!r}: {reason}")
        self.source = source
        self.reason = reason


class ReferenceNotFound(ImageError, NotFound):
    """The transport has no manifest under this tag or digest."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"image reference not found: {reference}")
        self.reference = reference


class RemoteRegistryError(ImageError):
    """A remote registry answered with an error or could not be reached."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"registry error at {url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class ContentMismatch(ImageError):
    """A manifest or config read by digest has other content than its digest names: the
    source is corrupt or hostile, and nothing read from it is trusted."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what} {expected}: the content read has digest {actual}")
        self.expected = expected
        self.actual = actual


class AuthenticationFailed(RemoteRegistryError):
    """The registry refused the credentials (or asked for some and none were given)."""


#: Every error reading an image raises: this family's, and the content errors of `model/`
#: (a manifest that does not parse, a blob the source lacks).
IMAGE_READ_ERRORS: tuple[type[Exception], ...] = (ImageError, ManifestInvalid, BlobNotFound)
