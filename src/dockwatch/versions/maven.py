"""Maven versions, ordered as Maven's `ComparableVersion` (maven-artifact 3.9).

The version is parsed into nested lists: `.` separates items of one list, `-` (and a switch
between digits and letters) opens a sub-list; trailing "null" items (0, "", `ga`, `final`,
`release`, empty lists) are dropped. Items compare: numbers numerically and above everything
else; qualifiers `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
then unknown qualifiers in lexical order; `a1`, `b1`, `m1` mean alpha-1, beta-1, milestone-1; a
sub-list sorts above a qualifier and below a number. Written here because no maintained Python
library implements ComparableVersion; tests replay the cases of Maven's ComparableVersionTest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import total_ordering

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = str(_QUALIFIERS.index(""))


class _Str:
    """A qualifier; `order` is ComparableVersion's `comparableQualifier` string."""

    __slots__ = ("order", "value")

    def __init__(self, value: str, followed_by_digit: bool) -> None:
        if followed_by_digit and len(value) == 1:
            value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
        value = _ALIASES.get(value, value)
        self.value = value
        i = _QUALIFIERS.index(value) if value in _QUALIFIERS else -1
        self.order = f"{len(_QUALIFIERS)}-{value}" if i == -1 else str(i)

    def is_null(self) -> bool:
        return self.order == _RELEASE_INDEX


Item = int | _Str | list["Item"]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _str_cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _is_null(item: Item) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, _Str):
        return item.is_null()
    return len(item) == 0


def _cmp(a: Item, b: Item | None) -> int:
    """`a.compareTo(b)` of ComparableVersion's Item classes (b None = past the end)."""
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return _sign(a - b)
        return 1
    if isinstance(a, _Str):
        if b is None:
            return _str_cmp(a.order, _RELEASE_INDEX)
        if isinstance(b, _Str):
            return _str_cmp(a.order, b.order)
        return -1
    # list
    if b is None:
        for item in a:
            r = _cmp(item, None)
            if r:
                return r
        return 0
    if isinstance(b, int):
        return -1
    if isinstance(b, _Str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            r = 0 if right is None else -_cmp(right, None)
        else:
            r = _cmp(left, right)
        if r:
            return r
    return 0


def _normalize(items: list[Item]) -> None:
    for i in range(len(items) - 1, -1, -1):
        last = items[i]
        if _is_null(last):
            del items[i]
        elif not isinstance(last, list):
            break


def _parse_item(is_digit: bool, buf: str) -> Item:
    return int(buf) if is_digit else _Str(buf, False)


def parse_items(version: str) -> list[Item]:
    """ComparableVersion.parseVersion: the nested, normalized item list."""
    version = version.lower()
    items: list[Item] = []
    current = items
    stack: list[list[Item]] = [items]
    is_digit = False
    start = 0
    for i, c in enumerate(version):
        if c == "." or c == "-":
            current.append(0 if i == start else _parse_item(is_digit, version[start:i]))
            start = i + 1
            if c == "-":
                sub: list[Item] = []
                current.append(sub)
                current = sub
                stack.append(sub)
        elif c.isdecimal():
            if not is_digit and i > start:
                # 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
                if current:
                    sub = []
                    current.append(sub)
                    current = sub
                    stack.append(sub)
                current.append(_Str(version[start:i], True))
                start = i
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_parse_item(True, version[start:i]))
                start = i
                sub = []
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = False
    if len(version) > start:
        if not is_digit and current:
            sub = []
            current.append(sub)
            current = sub
            stack.append(sub)
        current.append(_parse_item(is_digit, version[start:]))
    while stack:
        _normalize(stack.pop())
    return items


@total_ordering
class MavenKey:
    """Sort key wrapping the parsed item list."""

    __slots__ = ("items",)

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenKey) and _cmp(self.items, other.items) == 0

    def __lt__(self, other: MavenKey) -> bool:
        return _cmp(self.items, other.items) < 0

    def __hash__(self) -> int:  # keys are compared, not hashed; keep them usable in sets
        return hash(_canonical(self.items))

    def __repr__(self) -> str:
        return f"MavenKey({_canonical(self.items)!r})"


def _canonical(items: list[Item]) -> str:
    out: list[str] = []
    for item in items:
        if out:
            out.append("-" if isinstance(item, list) else ".")
        if isinstance(item, list):
            out.append(_canonical(item))
        elif isinstance(item, _Str):
            out.append(item.value)
        else:
            out.append(str(item))
    return "".join(out)


class MavenScheme(BaseScheme):
    """Maven Central coordinates' versions."""

    ecosystem = "Maven"

    def _parse(self, version: str) -> MavenKey:
        s = version.strip()
        if not s:
            raise self.invalid(version, "empty version")
        if any(c.isspace() for c in s):
            raise self.invalid(version, "whitespace in version")
        return MavenKey(parse_items(s))

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        key: MavenKey = self._cached(version)
        parts: list[int] = []
        for item in key.items:
            if not isinstance(item, int):
                break  # qualifiers, sub-lists and the end all sort below a further number
            parts.append(item)
        return 0, parts, False
