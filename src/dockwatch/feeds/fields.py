"""Typed access to untrusted decoded JSON/YAML, shared by the parsers.

Feed data is hostile input: every field is checked for its type and size before it reaches the
model, and a failure raises `BadRecord` (turned into a ParseProblem by the caller) instead of a
KeyError or TypeError deep inside a parser.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
import yaml

from dockwatch.feeds.feed import FeedFormatError
from dockwatch.model.advisory import to_utc

MAX_VERSION_LEN = 256
"""Longer version strings are refused (real ones stay well under 128 characters)."""
MAX_TEXT_LEN = 1 << 20
"""Longer summaries/details are refused."""
MAX_ID_LEN = 128
"""Longer ids are refused."""


class TooBig(ValueError):
    """A file is over its size cap."""


def read_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """A whole file, refusing files over `max_bytes` (checked before reading: read(n) would
    reserve n bytes up front). Raises OSError or TooBig."""
    # a descriptor rather than a file object: 0.145 CPU-s against 0.202 for the 18,050 record
    # files of the shared snapshot's JSON sources
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):  # as `open` refuses it
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        size = info.st_size
        if size > max_bytes:
            raise TooBig(f"{size} bytes, over the {max_bytes} byte cap")
        parts = [os.read(fd, size + 1)]
        total = len(parts[0])
        # a regular file reads short only at its end; one that has grown is read to the end
        # (the read that would only find the end again cost 18,050 system calls an import)
        regular = stat.S_ISREG(info.st_mode)
        while total <= max_bytes and (total > size or not regular):
            more = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not more:
                break
            parts.append(more)
            total += len(more)
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(data) > max_bytes:  # grew while we read
        raise TooBig(f"over the {max_bytes} byte cap")
    return data


def load_json_file(path: str | os.PathLike[str], max_bytes: int, source: str) -> Any:
    """A whole feed file's JSON; FeedFormatError when it cannot be read, is too big or is not JSON
    (the file as a whole is unusable, unlike one bad record in it)."""
    try:
        data = read_bounded(path, max_bytes)
    except (OSError, TooBig) as e:
        raise FeedFormatError(source, f"cannot read: {e}", path=str(path)) from e
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise FeedFormatError(source, f"invalid JSON: {e}", path=str(path)) from e


class BadRecord(ValueError):
    """One record (or one field of it) is malformed; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def obj(value: object, what: str) -> Mapping[str, Any]:
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise BadRecord(f"{what}: expected an object, got {type(value).__name__}")
    return value


def arr(value: object, what: str) -> list[Any]:
    """`value` as a JSON array (None is the empty array)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"{what}: expected an array, got {type(value).__name__}")
    return value


def text(value: object, what: str, *, limit: int = MAX_TEXT_LEN) -> str:
    """`value` as a bounded string (None is the empty string)."""
    if type(value) is str and len(value) <= limit:
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRecord(f"{what}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise BadRecord(f"{what}: {len(value)} characters, over the {limit} limit")
    return value


_ID_RE = re.compile(rf"[^\s\x00-\x1f\x7f-\x9f]{{1,{MAX_ID_LEN}}}")


def is_ident(value: object) -> bool:
    """Whether `ident` would accept `value`."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def ident(value: object, what: str) -> str:
    """A non-empty, bounded id without whitespace or control characters."""
    if isinstance(value, str) and _ID_RE.fullmatch(value) is not None:
        return value
    raise BadRecord(f"{what}: bad id {str(value)[:40]!r}")


_VERSION_RE = re.compile(rf"[^\s\x00-\x1f\x7f-\x9f]{{1,{MAX_VERSION_LEN}}}")


def version(value: object, what: str) -> str:
    """A version string: non-empty, bounded, no whitespace or control characters."""
    if not isinstance(value, str):
        raise BadRecord(f"{what}: version must be a string, got {type(value).__name__}")
    if _VERSION_RE.fullmatch(value) is None:
        raise BadRecord(f"{what}: absurd version {value[:40]!r} (length {len(value)})")
    return value


def str_tuple(value: object, what: str, *, limit: int = MAX_ID_LEN) -> tuple[str, ...]:
    """A list of bounded strings."""
    return tuple(text(v, what, limit=limit) for v in arr(value, what) if v is not None)


def timestamp(value: object, what: str) -> datetime | None:
    """An RFC 3339 timestamp (or a YAML datetime) as UTC; None if absent or a placeholder.

    Go's vulndb repository writes `0001-01-01T00:00:00Z` for "not published yet"; that means
    unknown, not year 1.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError as e:
            raise BadRecord(f"{what}: bad timestamp {value!r}") from e
    else:
        raise BadRecord(f"{what}: bad timestamp of type {type(value).__name__}")
    if dt.year <= 1:
        return None
    return to_utc(dt)


def day(value: object, what: str) -> date | None:
    """A `YYYY-MM-DD` date; None if absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{what}: expected a date string")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as e:
        raise BadRecord(f"{what}: bad date {value!r}") from e


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


class _Composer(yaml.CSafeLoader):
    """libyaml's parser and composer, with a resolver that only tells null from text.

    The default resolver turns `1.10` into the float 1.1 and `2021-01-01` into a date; a version
    or timestamp must reach the parser as the text the author wrote, as it would from JSON.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _NULL if implicit[0] and value in _NULLS else _STR
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]


def load_yaml(data: bytes, budget: int) -> object:
    """One YAML document as plain str/None/list/dict, without PyYAML's constructor.

    Composition runs in libyaml; turning nodes into values is a short loop here, several times
    faster than SafeConstructor and free of its tag handling: explicit tags are ignored, so no
    object other than str, None, list and dict is ever built. Aliases are refused (OSV records
    never use them, and they are how "billion laughs" documents blow up), and so are documents
    with more than `budget` nodes. Raises yaml.YAMLError or BadRecord.
    """
    loader = _Composer(data)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is None:
        return None
    seen: set[int] = set()
    count = 0

    def convert(node: yaml.Node) -> object:
        nonlocal count
        count += 1
        if count > budget:
            raise BadRecord(f"more than {budget} YAML nodes")
        if isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL else node.value
        if id(node) in seen:
            raise BadRecord("YAML aliases are not allowed in records")
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            return [convert(n) for n in node.value]
        out: dict[object, object] = {}
        for k, v in node.value:
            key = convert(k)
            if not isinstance(key, str):
                raise BadRecord("YAML mapping keys must be strings")
            out[key] = convert(v)
        return out

    return convert(root)
