"""AWS Signature Version 4 verification: the Authorization header form and the presigned
query form, as the SigV4 specification defines them and botocore's signer produces them.

The canonical request is rebuilt from the request as received: the method; the raw path with
dot segments and repeated slashes removed, URI-encoded once more (non-S3 services sign the
encoded path encoded again); the query parameters decoded, re-encoded (RFC 3986 unreserved
characters kept) and sorted (without `X-Amz-Signature` in the presigned form); each signed
header, lower-case, its values trimmed and joined with commas; the signed header list; the
payload hash (the `x-amz-content-sha256` header, which must match the body unless it says
`UNSIGNED-PAYLOAD`, else the body's SHA-256). The expected signature is HMAC-SHA256 under the
key derived from the secret and the credential scope (date, region, service), compared in
constant time. The tests sign with botocore's `SigV4Auth` and `SigV4QueryAuth` as the oracle.

Errors are AWS's: no signature (MissingAuthenticationTokenException), an unknown or inactive
key (UnrecognizedClientException), a malformed header (IncompleteSignatureException), a scope
outside the served regions or for another service, a time more than 15 minutes from the
server's clock, or another signature (InvalidSignatureException), an expired presigned URL
(ExpiredTokenException).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from dockwatch.accounts.keys import SigningCredential
from dockwatch.api.aws.errors import AwsError
from dockwatch.value_class import frozen

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_STAMP = "%Y%m%dT%H%M%SZ"

INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@frozen
class SignedRequest:
    """A request as received, with what the signature covers."""

    method: str
    raw_path: str
    """The path as sent, still percent-encoded, without the query."""
    raw_query: str
    headers: Sequence[tuple[str, str]]
    """Every header, names lower-case, in the order received."""
    body: bytes


@frozen
class Verified:
    """A request whose signature holds: who signed it and for which region."""

    credential: SigningCredential
    region: str
    service: str


@frozen
class _Parts:
    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    timestamp: str
    expires: int | None
    """Seconds a presigned URL is valid; None for the header form."""


def _error(code: str, message: str, status: int = 403) -> AwsError:
    return AwsError(code, message, status)


def _incomplete(message: str) -> AwsError:
    return _error("IncompleteSignatureException", message, 400)


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The decoded (name, value) pairs of a raw query string, in order ('+' stays '+')."""
    pairs = []
    for piece in raw_query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k == name:
            return v
    return None


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise _incomplete(f"Credential should have 5 parts separated by '/': '{credential}'.")
    if parts[4] != "aws4_request":
        raise _incomplete(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{parts[4]}'."
        )
    return parts[0], parts[1], parts[2], parts[3]


def _header_parts(request: SignedRequest, authorization: str) -> _Parts:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported authorization type: '{algorithm}'; use {ALGORITHM}.")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing:
        raise _incomplete(
            " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
        )
    key, date, region, service = _parse_credential(fields["Credential"])
    stamp = _header(request.headers, "x-amz-date")
    if stamp is None:
        http_date = _header(request.headers, "date")
        if http_date is None:
            raise _incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header."
            )
        try:
            stamp = parsedate_to_datetime(http_date).astimezone(UTC).strftime(_STAMP)
        except (TypeError, ValueError) as exc:
            raise _incomplete(f"Date header is not an HTTP date: '{http_date}'.") from exc
    return _Parts(
        key,
        date,
        region,
        service,
        fields["SignedHeaders"].split(";"),
        fields["Signature"],
        stamp,
        None,
    )


def _query_parts(pairs: list[tuple[str, str]]) -> _Parts:
    params = dict(pairs)
    names = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
    missing = [n for n in names if n not in params]
    if missing:
        raise _incomplete(
            " ".join(f"AWS query-string parameters must include '{n}'." for n in missing)
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _incomplete(f"X-Amz-Algorithm only supports '{ALGORITHM}'.")
    raw_expires = params.get("X-Amz-Expires", str(MAX_PRESIGN_SECONDS))
    if not raw_expires.isdigit() or not 0 < int(raw_expires) <= MAX_PRESIGN_SECONDS:
        raise _incomplete(
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGN_SECONDS}, "
            f"not '{raw_expires}'."
        )
    key, date, region, service = _parse_credential(params["X-Amz-Credential"])
    return _Parts(
        key,
        date,
        region,
        service,
        params["X-Amz-SignedHeaders"].split(";"),
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        int(raw_expires),
    )


def _check_time(parts: _Parts, now: datetime) -> None:
    try:
        at = datetime.strptime(parts.timestamp, _STAMP).replace(tzinfo=UTC)
    except ValueError as exc:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{parts.timestamp}'."
        ) from exc
    if parts.scope_date != parts.timestamp[:8]:
        raise _error(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{parts.scope_date}' != '{parts.timestamp[:8]}', from "
            f"'{parts.timestamp}'.",
        )
    now = now.astimezone(UTC).replace(microsecond=0)
    stamp = now.strftime(_STAMP)
    if at > now + MAX_SKEW:
        raise _error(
            "InvalidSignatureException",
            f"Signature not yet current: {parts.timestamp} is still later than "
            f"{(now + MAX_SKEW).strftime(_STAMP)} ({stamp} + 15 min.)",
        )
    if parts.expires is not None:
        if now > at + timedelta(seconds=parts.expires):
            raise _error(
                "ExpiredTokenException",
                f"Signature expired: {parts.timestamp} + {parts.expires} seconds is now "
                f"earlier than {stamp}.",
            )
    elif at < now - MAX_SKEW:
        raise _error(
            "InvalidSignatureException",
            f"Signature expired: {parts.timestamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_STAMP)} ({stamp} - 15 min.)",
        )


def _payload_hash(request: SignedRequest, declared: str | None) -> str:
    actual = hashlib.sha256(request.body).hexdigest()
    if declared is None:
        return actual
    if declared != UNSIGNED_PAYLOAD and declared.lower() != actual:
        raise _error(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
        )
    return declared


def canonical_request(
    request: SignedRequest, signed_headers: list[str], pairs: list[tuple[str, str]], payload: str
) -> str:
    """The canonical request of the specification, from the request as received."""
    path = quote(normalize_url_path(request.raw_path), safe="/~")
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    )
    lines = []
    for name in signed_headers:
        values = [" ".join(v.split()) for k, v in request.headers if k == name]
        lines.append(f"{name}:{','.join(values)}")
    return "\n".join(
        [
            request.method.upper(),
            path,
            query,
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            payload,
        ]
    )


def signature(secret: str, parts: _Parts, canonical: str) -> str:
    """HMAC-SHA256 of the string to sign under the key derived for the scope."""
    scope = f"{parts.scope_date}/{parts.region}/{parts.service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, parts.timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in (parts.scope_date, parts.region, parts.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest,
    *,
    lookup: Callable[[str], SigningCredential | None],
    now: datetime,
    regions: Collection[str],
    service: str,
) -> Verified:
    """The signer of a request signed for `service` in one of `regions`, else AwsError."""
    pairs = query_pairs(request.raw_query)
    presigned = any(k == "X-Amz-Algorithm" for k, _ in pairs)
    authorization = _header(request.headers, "authorization")
    if presigned:
        parts = _query_parts(pairs)
        pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
        declared = dict(pairs).get("X-Amz-Content-Sha256")
    elif authorization is not None:
        parts = _header_parts(request, authorization)
        declared = None
    else:
        raise _error("MissingAuthenticationTokenException", "Missing Authentication Token")
    if declared is None:
        declared = _header(request.headers, "x-amz-content-sha256")
    if parts.region not in regions:
        raise _error(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{parts.region}'. ",
        )
    if parts.service != service:
        raise _error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    if "host" not in parts.signed_headers:
        raise _error(
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    if parts.signed_headers != sorted(set(parts.signed_headers)) or any(
        h != h.lower() for h in parts.signed_headers
    ):
        raise _error("InvalidSignatureException", MISMATCH)
    _check_time(parts, now)
    credential = lookup(parts.access_key_id)
    if credential is None or not credential.active:
        raise _error("UnrecognizedClientException", INVALID_TOKEN)
    canonical = canonical_request(
        request, parts.signed_headers, pairs, _payload_hash(request, declared)
    )
    expected = signature(credential.secret_access_key, parts, canonical)
    if not hmac.compare_digest(expected.encode(), parts.signature.encode()):
        raise _error("InvalidSignatureException", MISMATCH)
    return Verified(credential, parts.region, parts.service)
