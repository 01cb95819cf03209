"""Content digests (`algorithm:hex`) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from typing import NewType

from dockwatch.errors import InvalidInput, NotFound

Digest = NewType("Digest", str)

#: Algorithms dockwatch computes, with the exact hex length each must have.
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestInvalid(InvalidInput):
    """A digest string is malformed or names an algorithm dockwatch does not support."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"invalid digest {value!r}: {reason}")
        self.value = value
        self.reason = reason


class BlobNotFound(NotFound):
    """No blob with that digest where it was looked for (a blob store, an image source)."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"blob not found: {digest}")
        self.digest = digest


def parse_digest(value: str) -> Digest:
    """Validate `value` as a supported digest and return it; raises `DigestInvalid`."""
    if not _GRAMMAR.match(value):
        raise DigestInvalid(value, "not of the form algorithm:encoded")
    algorithm, _, encoded = value.partition(":")
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise DigestInvalid(value, f"unsupported algorithm {algorithm!r}")
    if len(encoded) != length or any(c not in "0123456789abcdef" for c in encoded):
        raise DigestInvalid(value, f"{algorithm} needs {length} lowercase hex characters")
    return Digest(value)


def is_digest(value: str) -> bool:
    """True when `value` looks like a digest (a reference that is not a tag)."""
    return ":" in value


def algorithm_of(digest: Digest) -> str:
    """The algorithm part of a parsed digest."""
    return digest.partition(":")[0]


def compute(data: bytes, algorithm: str = "sha256") -> Digest:
    """The digest of `data` with `algorithm`."""
    return Digest(f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}")
