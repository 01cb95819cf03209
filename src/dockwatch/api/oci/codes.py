"""The distribution spec's error codes: one registered table, and the mapping from domain errors.

Each code has its HTTP status and the spec's message. `error_for` turns any exception raised by
the registry into (status, code, message, detail); nothing else renders OCI errors.
"""

from __future__ import annotations

from dockwatch.errors import BackendUnavailable
from dockwatch.model.digest import DigestInvalid
from dockwatch.pullpolicy.gate import PullRefusedError
from dockwatch.registry import errors as e
from dockwatch.registry.names import NameInvalid, TagInvalid
from dockwatch.value_class import frozen


@frozen
class ErrorCode:
    """A registered error code."""

    code: str
    status: int
    message: str
    description: str


CODES: dict[str, ErrorCode] = {
    c.code: c
    for c in (
        ErrorCode(
            "BLOB_UNKNOWN", 404, "blob unknown to registry", "The blob is not in the repository."
        ),
        ErrorCode(
            "BLOB_UPLOAD_INVALID",
            400,
            "blob upload invalid",
            "The upload failed or a chunk was out of order.",
        ),
        ErrorCode(
            "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry", "No such upload session."
        ),
        ErrorCode(
            "DIGEST_INVALID",
            400,
            "provided digest did not match uploaded content",
            "The content does not match its digest, or the digest is malformed.",
        ),
        ErrorCode(
            "MANIFEST_BLOB_UNKNOWN",
            400,
            "blob unknown to registry",
            "The manifest references a blob or manifest the repository lacks.",
        ),
        ErrorCode("MANIFEST_INVALID", 400, "manifest invalid", "The manifest failed validation."),
        ErrorCode(
            "MANIFEST_UNKNOWN", 404, "manifest unknown", "No manifest for that tag or digest."
        ),
        ErrorCode(
            "MANIFEST_UNVERIFIED",
            400,
            "manifest failed signature verification",
            "A schema 1 signature did not verify.",
        ),
        ErrorCode(
            "NAME_INVALID",
            400,
            "invalid repository name",
            "The repository name breaks the grammar.",
        ),
        ErrorCode(
            "NAME_UNKNOWN",
            404,
            "repository name not known to registry",
            "The repository does not exist.",
        ),
        ErrorCode(
            "SIZE_INVALID",
            400,
            "provided length did not match content length",
            "Content-Length disagrees with the content.",
        ),
        ErrorCode(
            "TAG_INVALID",
            400,
            "manifest tag did not match URI",
            "The tag is malformed or differs from the manifest's.",
        ),
        ErrorCode(
            "UNAUTHORIZED", 401, "authentication required", "Credentials are missing or wrong."
        ),
        ErrorCode(
            "DENIED",
            403,
            "requested access to the resource is denied",
            "The operation is not allowed (an immutable tag, say).",
        ),
        ErrorCode(
            "UNSUPPORTED", 405, "The operation is unsupported.", "The operation is not supported."
        ),
        ErrorCode("TOOMANYREQUESTS", 429, "too many requests", "The client is being rate limited."),
        ErrorCode(
            "PAGINATION_NUMBER_INVALID",
            400,
            "invalid number of results requested",
            "n is not a valid page size.",
        ),
        ErrorCode(
            "RANGE_INVALID",
            416,
            "invalid content range",
            "The Content-Range or Range is not satisfiable.",
        ),
        ErrorCode("SIZE_EXCEEDED", 413, "payload too large", "The content exceeds a size limit."),
        ErrorCode(
            "UNAVAILABLE", 503, "service unavailable", "A storage backend failed; retry later."
        ),
        ErrorCode("UNKNOWN", 500, "unknown error", "An unexpected error."),
    )
}


@frozen
class RenderedError:
    """An error ready to be written as the spec's `{"errors": [...]}` body."""

    status: int
    code: str
    message: str
    detail: object = None


def _r(
    code: str, message: str | None = None, detail: object = None, status: int | None = None
) -> RenderedError:
    c = CODES[code]
    return RenderedError(status or c.status, code, message or c.message, detail)


def error_for(exc: BaseException) -> RenderedError:
    """The OCI error for a domain exception (UNKNOWN for anything unexpected)."""
    detail = getattr(exc, "detail", None)
    match exc:
        case e.NameUnknown():
            return _r("NAME_UNKNOWN", detail=detail)
        case NameInvalid():
            return _r("NAME_INVALID", str(exc), {"name": exc.name})
        case TagInvalid():
            return _r("TAG_INVALID", str(exc), {"tag": exc.tag})
        case e.TagInvalidError():
            return _r("TAG_INVALID", str(exc))
        case e.BlobUnknown():
            return _r("BLOB_UNKNOWN", detail=detail)
        case e.BlobUploadUnknown():
            return _r("BLOB_UPLOAD_UNKNOWN", detail=detail)
        case e.BlobUploadInvalid():
            status = 416 if exc.range_not_satisfiable else None
            return _r("BLOB_UPLOAD_INVALID", str(exc), status=status)
        case e.DigestInvalidError():
            return _r("DIGEST_INVALID", str(exc), detail)
        case DigestInvalid():
            return _r("DIGEST_INVALID", str(exc), {"digest": exc.value})
        case e.SizeInvalid():
            return _r("SIZE_INVALID", str(exc))
        case e.ManifestUnknown():
            return _r("MANIFEST_UNKNOWN", detail=detail)
        case e.ManifestBlobUnknown():
            return _r("MANIFEST_BLOB_UNKNOWN", str(exc), {"digests": exc.digests})
        case e.ManifestTooLarge():
            return _r("MANIFEST_INVALID", str(exc), status=413)
        case e.ManifestInvalidError():
            return _r("MANIFEST_INVALID", str(exc))
        case PullRefusedError():
            return _r("DENIED", str(exc), exc.detail)
        case e.Denied():
            return _r("DENIED", str(exc))
        case e.Unsupported():
            return _r("UNSUPPORTED", str(exc))
        case e.PaginationInvalid():
            return _r("PAGINATION_NUMBER_INVALID", str(exc))
        case BackendUnavailable():
            return _r("UNAVAILABLE", str(exc), status=507 if "space" in str(exc) else 503)
    return _r("UNKNOWN")
