"""Errors of the image-reading family; every one carries the data that explains it."""

from __future__ import annotations

from dockwatch.errors import DockwatchError, InvalidInput, NotFound


class ImageError(DockwatchError):
    """Base of errors raised while locating or reading an image."""


class ManifestInvalid(ImageError, InvalidInput):
    """A manifest or index could not be parsed or has an unknown shape."""

    def __init__(self, reason: str, media_type: str | None = None) -> None:
        super().__init__(f"invalid manifest ({media_type or 'unknown media type'}): {reason}")
        self.reason = reason
        self.media_type = media_type


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


class BlobNotFound(ImageError, NotFound):
    """A manifest names a blob the source does not hold."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"blob not found: {digest}")
        self.digest = digest


class RegistryError(ImageError):
    """A remote registry answered with an error or could not be reached."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"registry error at {url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class AuthenticationFailed(RegistryError):
    """The registry refused the credentials (or asked for some and none were given)."""
