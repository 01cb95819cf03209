"""Repository names, tags and references, with the distribution spec's grammar and limits."""

from __future__ import annotations

import re

from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest, DigestInvalid, parse_digest

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
MAX_NAME_LENGTH = 255


class NameInvalid(InvalidInput):
    """A repository name that breaks the grammar or the length limit."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"invalid repository name {name!r}: {reason}")
        self.name = name


class TagInvalid(InvalidInput):
    """A tag that breaks the grammar."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"invalid tag {tag!r}")
        self.tag = tag


def check_name(name: str) -> str:
    """Return `name` if it is a valid repository name, else raise `NameInvalid`."""
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(name, f"longer than {MAX_NAME_LENGTH} characters")
    if not NAME_RE.match(name):
        raise NameInvalid(name, "must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*(/...)*")
    return name


def check_tag(tag: str) -> str:
    """Return `tag` if valid, else raise `TagInvalid`."""
    if not TAG_RE.match(tag):
        raise TagInvalid(tag)
    return tag


def split_reference(reference: str) -> tuple[str | None, Digest | None]:
    """A manifest reference is a tag or a digest: returns (tag, None) or (None, digest)."""
    if ":" in reference:
        try:
            return None, parse_digest(reference)
        except DigestInvalid:
            raise
    return check_tag(reference), None
