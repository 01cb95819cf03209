"""Debian package versions (`[epoch:]upstream[-revision]`), ordered exactly as dpkg orders them.

Written here rather than taken from python-debian because matching needs a cached, hashable
sort key (python-debian compares pairs) and a monotonic coarse key for SQL prefilters. Exactness
is proven against apt_pkg and `dpkg --compare-versions` in tests/unit/versions/test_dpkg.py.

dpkg's `verrevcmp` walks alternating non-digit and digit runs. In a non-digit run `~` sorts
before everything (even the end of the string), then the end, then letters, then every other
character by its ASCII value; digit runs compare as integers. The key below encodes each
non-digit run as a tuple of those weights closed by 0 (the weight of "end"), each digit run as
an int, and the whole string closed by the "end" run `(0,)`, so plain tuple comparison gives
the same answer as `verrevcmp`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_END: tuple[int, ...] = (0,)
_DOT: tuple[int, ...] = (ord(".") + 256, 0)
_RUNS = re.compile(r"([^0-9]*)([0-9]*)")
_UPSTREAM_OK = re.compile(r"[A-Za-z0-9.+~:-]*")
_REVISION_OK = re.compile(r"[A-Za-z0-9.+~]*")
_INT_MAX = 2**31 - 1

Run = tuple[int, ...]
VersionPart = tuple["Run | int", ...]


def _weight(c: str) -> int:
    if c == "~":
        return -1
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


@lru_cache(maxsize=4096)
def _lex(run: str) -> Run:
    return (*map(_weight, run), 0)


def part_key(s: str) -> VersionPart:
    """Sort key of an upstream version or a revision under dpkg's `verrevcmp`."""
    out: list[Run | int] = []
    pairs = _RUNS.findall(s)
    if len(pairs) > 1:
        pairs.pop()  # findall's final empty match at the end of the string
    for lex, digits in pairs:
        out.append(_lex(lex))
        out.append(int(digits) if digits else 0)
    out.append(_END)
    return tuple(out)


class DpkgScheme(BaseScheme):
    """Debian (and Ubuntu) binary and source package versions."""

    ecosystem = "Debian"

    def split(self, version: str) -> tuple[int, str, str]:
        """(epoch, upstream, revision) as dpkg's `parseversion` splits them; raises InvalidVersion."""
        s = version.strip()
        if not s:
            raise self.invalid(version, "version string is empty")
        if any(c.isspace() for c in s):
            raise self.invalid(version, "version string has embedded spaces")
        epoch = 0
        if ":" in s:
            head, s = s.split(":", 1)
            if not head:
                raise self.invalid(version, "epoch in version is empty")
            if not (head.isascii() and head.isdigit()):
                raise self.invalid(version, "epoch in version is not number")
            epoch = int(head)
            if epoch > _INT_MAX:
                raise self.invalid(version, "epoch in version is too big")
            if not s:
                raise self.invalid(version, "nothing after colon in version number")
        upstream, sep, revision = s.rpartition("-")
        if not sep:
            upstream, revision = s, ""
        elif not revision:
            raise self.invalid(version, "revision number is empty")
        if not upstream:
            raise self.invalid(version, "upstream version is empty")
        # dpkg only warns about these; Debian policy forbids them and no archive carries them,
        # so treat them as unparseable rather than guessing (apt and dpkg disagree on bytes).
        if not _UPSTREAM_OK.fullmatch(upstream) or not upstream.isascii():
            raise self.invalid(version, "invalid character in version number")
        if not _REVISION_OK.fullmatch(revision) or not revision.isascii():
            raise self.invalid(version, "invalid character in revision number")
        return epoch, upstream, revision

    def _parse(self, version: str) -> tuple[int, VersionPart, VersionPart]:
        epoch, upstream, revision = self.split(version)
        return epoch, part_key(upstream), part_key(revision)

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        epoch, upstream, _ = self.split(version)
        key = part_key(upstream)
        lex0 = key[0]
        assert isinstance(lex0, tuple)
        if lex0 != _END:
            # Upstream not starting with a digit: `~x` sorts below every digit-led upstream of
            # the same epoch, a letter or other character above all of them.
            return epoch, [], lex0 > _END
        parts: list[int] = []
        i = 1
        while i < len(key):
            num = key[i]
            assert isinstance(num, int)
            parts.append(num)
            lex = key[i + 1]
            assert isinstance(lex, tuple)
            if lex != _DOT:
                # End of the dotted numeric prefix. What follows sorts above every `.N`
                # continuation iff its run sorts above "." (`.a`, `:`), else below (end, `~`, `+`).
                return epoch, parts, lex > _DOT
            i += 2
        return epoch, parts, False  # pragma: no cover - the key always ends with _END
