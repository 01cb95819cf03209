"""JSON API errors: AWS-style bodies (`{"__type", "message"}`) from one table of exceptions."""

from __future__ import annotations

from dockwatch.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from dockwatch.registry import errors as registry_errors
from dockwatch.value_class import frozen

from .body import BodyTooLarge


class MethodNotAllowed(Exception):
    """A method the path does not declare (405, with `Allow`)."""

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"{method} is not allowed here; allowed: {', '.join(allowed)}")
        self.allowed = allowed


@frozen
class ApiErrorCode:
    """A registered error type."""

    type: str
    status: int
    description: str


CODES: dict[str, ApiErrorCode] = {
    c.type: c
    for c in (
        ApiErrorCode("RepositoryNotFoundException", 404, "The repository does not exist."),
        ApiErrorCode("ImageNotFoundException", 404, "No image with that tag or digest."),
        ApiErrorCode("ResourceNotFoundException", 404, "The named resource does not exist."),
        ApiErrorCode("ValidationException", 400, "A parameter is missing or malformed."),
        ApiErrorCode("MethodNotAllowedException", 405, "The path does not take this method."),
        ApiErrorCode("PayloadTooLargeException", 413, "The request body exceeds the limit."),
        ApiErrorCode(
            "TooManyRequestsException", 429, "Too many failed authentications; see Retry-After."
        ),
        ApiErrorCode("UnauthorizedException", 401, "Credentials are missing or wrong."),
        ApiErrorCode("ConflictException", 409, "The request contradicts the stored state."),
        ApiErrorCode(
            "LimitExceededException", 400, "A scan limit was reached (basic: once per 24 hours)."
        ),
        ApiErrorCode("UnsupportedImageTypeException", 400, "The image is not a runnable image."),
        ApiErrorCode("ServiceUnavailableException", 503, "A storage backend failed; retry later."),
        ApiErrorCode("InternalServerException", 500, "An unexpected error."),
    )
}


def code_for(exc: BaseException) -> ApiErrorCode:
    """The registered error type of a domain exception."""
    from dockwatch.scan.service import LimitExceeded, ManualScanUnsupported

    from .sbom import UnsupportedImage

    match exc:
        case LimitExceeded():
            return CODES["LimitExceededException"]
        case ManualScanUnsupported():  # well formed, but the registry is set to ENHANCED
            return CODES["ConflictException"]
        case UnsupportedImage():
            return CODES["UnsupportedImageTypeException"]
        case MethodNotAllowed():
            return CODES["MethodNotAllowedException"]
        case BodyTooLarge():
            return CODES["PayloadTooLargeException"]
        case registry_errors.NameUnknown():
            return CODES["RepositoryNotFoundException"]
        case registry_errors.ManifestUnknown():
            return CODES["ImageNotFoundException"]
        case NotFound():
            return CODES["ResourceNotFoundException"]
        case InvalidInput():
            return CODES["ValidationException"]
        case Conflict():
            return CODES["ConflictException"]
        case BackendUnavailable():
            return CODES["ServiceUnavailableException"]
    return CODES["InternalServerException"]
