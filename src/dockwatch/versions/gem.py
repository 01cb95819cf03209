"""RubyGems versions, ordered as `Gem::Version#<=>` (rubygems `lib/rubygems/version.rb`).

`Gem::Version` strips the string and rewrites each `-`: before an identifier containing a
letter it becomes `.` (`1.0.0-beta.1` is `1.0.0.beta.1`), before a numeric one `.pre.`
(`1.0.0-1` is `1.0.0.pre.1`, a prerelease; rubygems issue #9910). The string splits into runs
of digits (integers) and letters (strings, compared case-sensitively). `canonical_segments`
drops trailing zero segments, the zero segments just before the first letter, and a `pre`
that precedes another letter segment (so the older `1.0.0.pre.beta.1` spelling stays equal);
comparison then goes segment by segment, padding the shorter side with 0, and a string sorts
below any number. Any letter makes a prerelease. Written here because no Python library
implements it.

The key groups each non-zero segment with the count of zeros before it, which turns Ruby's
"pad with infinite zeros" comparison into a plain tuple comparison: numbers are (2, -zeros, n),
strings (0, zeros, s), and the end (1,).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_PATTERN = re.compile(r"[0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?")
_SEGMENTS = re.compile(r"[0-9]+|[a-zA-Z]+")

Segment = int | str


_TRAILING_ZEROS = re.compile(r"(?<=[a-zA-Z.])[.0]+\Z")
_ZEROS_BEFORE_LETTER = re.compile(r"(?:(?<=\.)|\A)[0.]+(?=[a-zA-Z])")
_LETTER = re.compile(r"[a-zA-Z]")
_FIRST_IDENTIFIER = re.compile(r"[^.]+")


def normalize_hyphens(version: str) -> str:
    """`Gem::Version.normalize_hyphens`: `-x` becomes `.x` before a letter label, else `.pre.x`."""
    if "-" not in version:
        return version
    parts = version.split("-")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # Ruby's String#split drops trailing empty fields
    head, *rest = parts
    out = [head]
    for part in rest:
        first = _FIRST_IDENTIFIER.match(part)
        out.append(part if first and _LETTER.search(first[0]) else f"pre.{part}")
    return ".".join(out)


def canonical_segments(version: str) -> list[Segment]:
    """`Gem::Version#canonical_segments` of an already validated version string."""
    s = normalize_hyphens(version.strip() or "0")
    s = _TRAILING_ZEROS.sub("", s, count=1)
    if _LETTER.search(s):
        s = _ZEROS_BEFORE_LETTER.sub("", s, count=1)
    segs: list[Segment] = [int(x) if x.isdigit() else x for x in _SEGMENTS.findall(s)]
    # skip_redundant_pre_segments: a `pre` followed by another letter segment
    return [
        seg
        for i, seg in enumerate(segs)
        if not (seg == "pre" and i + 1 < len(segs) and isinstance(segs[i + 1], str))
    ]


class GemScheme(BaseScheme):
    """RubyGems."""

    ecosystem = "RubyGems"

    def _segments(self, version: str) -> list[Segment]:
        s = version.strip()
        if s and not _PATTERN.fullmatch(s):
            raise self.invalid(version, "malformed version number string")
        return canonical_segments(s)

    def _parse(self, version: str) -> tuple[tuple[int, int, Segment] | tuple[int], ...]:
        key: list[tuple[int, int, Segment] | tuple[int]] = []
        zeros = 0
        for seg in self._segments(version):
            if seg == 0:
                zeros += 1
            elif isinstance(seg, int):
                key.append((2, -zeros, seg))
                zeros = 0
            else:
                key.append((0, zeros, seg))
                zeros = 0
        key.append((1,))
        return tuple(key)

    def is_prerelease(self, version: str) -> bool:
        """Gem::Version#prerelease?: any letter in the (hyphen-normalised) version."""
        self._segments(version)  # validates
        return _LETTER.search(normalize_hyphens(version.strip())) is not None

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        parts: list[int] = []
        for seg in self._segments(version):
            if not isinstance(seg, int):
                break  # a string sorts below any number, including the implicit zeros
            parts.append(seg)
        return 0, parts, False
