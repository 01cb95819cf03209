"""RPM versions (`[epoch:]version[-release]`), ordered as rpm's `rpmvercmp` and `labelCompare`.

Written here because no maintained PyPI package exposes rpmvercmp without librpm; exactness is
proven against `rpm.labelCompare` (python3-rpm) in tests/unit/versions/test_rpm.py.

`rpmvercmp` skips every character that is not an ASCII letter, digit, `~` or `^`, then compares
segment by segment. At each step the two sides are one of: `~` (sorts before anything, even the
end), the end, `^` (after the end, before any segment), a letter run, a digit run (after letter
runs; digit runs compare as integers). Those ranks, in that order, make a tuple key whose plain
comparison equals rpmvercmp. Epochs compare the same way (a missing epoch is "0"), and a missing
release sorts before any release, as `labelCompare` does with `None`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_TILDE, _END, _CARET, _ALPHA, _NUM = range(5)
_TOKENS = re.compile(r"([0-9]+)|([A-Za-z]+)|(~)|(\^)")
_ALLOWED = re.compile(r"[A-Za-z0-9._+~^]+")

Segment = tuple[int, "int | str"]
Segments = tuple[Segment, ...]


def segments(s: str) -> Segments:
    """Sort key of one rpm version field under `rpmvercmp`."""
    out: list[Segment] = []
    for num, alpha, tilde, _caret in _TOKENS.findall(s):
        if num:
            out.append((_NUM, int(num)))
        elif alpha:
            out.append((_ALPHA, alpha))
        elif tilde:
            out.append((_TILDE, 0))
        else:
            out.append((_CARET, 0))
    out.append((_END, 0))
    return tuple(out)


class RpmScheme(BaseScheme):
    """RPM-based distributions (AlmaLinux, Rocky Linux, Red Hat, SUSE, ...)."""

    ecosystem = "Red Hat"

    def split(self, version: str) -> tuple[str, str, str | None]:
        """(epoch, version, release-or-None); raises InvalidVersion."""
        s = version.strip()
        if not s:
            raise self.invalid(version, "empty version")
        epoch = "0"
        if ":" in s:
            epoch, s = s.split(":", 1)
            if not (epoch.isascii() and epoch.isdigit()):
                raise self.invalid(version, "epoch is not a number")
        ver, sep, release = s.rpartition("-")
        if not sep:
            ver, rel = s, None
        else:
            rel = release
            if not rel:
                raise self.invalid(version, "empty release")
        if not ver:
            raise self.invalid(version, "empty version")
        for field in (ver, rel or "x"):
            if not _ALLOWED.fullmatch(field):
                raise self.invalid(version, f"invalid character in {field!r}")
        return epoch, ver, rel

    def _parse(self, version: str) -> tuple[Segments, Segments, tuple[int, Segments] | tuple[int]]:
        epoch, ver, rel = self.split(version)
        return segments(epoch), segments(ver), ((1, segments(rel)) if rel is not None else (0,))

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        epoch, ver, _ = self.split(version)
        parts: list[int] = []
        for rank, value in segments(ver):
            if rank != _NUM:
                break  # every other segment (and the end) sorts below a digit run
            assert isinstance(value, int)
            parts.append(value)
        return int(epoch), parts, False
