"""Decide per tar entry, cheaply, whether a layer file must be kept for some cataloger."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from dockwatch.catalog.cataloger import Cataloger, GlobCataloger


@runtime_checkable
class ReducingCataloger(Protocol):
    """Optional ability: shrink a file `wants()` selected right when it is read (say, keep only
    the Go build-info blob of a 90 MB binary), so a layer's big files never sit in memory
    together. Return None to drop the file."""

    def reduce(self, path: str, data: bytes) -> bytes | None:
        """The part of `data` the cataloger will need, or None."""
        ...


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    """Same semantics as `cataloger.match_glob`: fnmatch, and `**/` may also match nothing."""
    alternatives = [fnmatch.translate(pattern)]
    if "**/" in pattern:
        alternatives.append(fnmatch.translate(pattern.replace("**/", "")))
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


_WILD = re.compile(r"[*?\[]")


class Selector:
    """Decides per tar entry, cheaply, whether its content must be kept.

    Matching 50k paths against 60 globs one by one would cost more than decompressing the
    layer, so globs are indexed by their last component: an exact basename (dict lookup), a
    `*SUFFIX` basename (one `str.endswith` over a tuple), or a literal directory prefix (one
    `str.startswith`); only a hit is confirmed against the full glob.
    """

    def __init__(self, catalogers: Iterable[Cataloger], extra_globs: Iterable[str] = ()) -> None:
        self.catalogers = tuple(catalogers)
        patterns = sorted({*extra_globs, *(g for c in self.catalogers for g in c.globs)})
        self._by_name: dict[str, list[re.Pattern[str]]] = {}
        suffixes: list[str] = []
        prefixes: list[str] = []
        wild: list[str] = []
        self._confirm: list[re.Pattern[str]] = []
        for pattern in patterns:
            regex = _compile(pattern)
            base = pattern.rsplit("/", 1)[-1]
            if not _WILD.search(base):
                self._by_name.setdefault(base, []).append(regex)
                continue
            self._confirm.append(regex)
            if base.startswith("*") and not _WILD.search(base[1:]) and base[1:]:
                suffixes.append(base[1:])
                continue
            match = _WILD.search(pattern)
            prefix = pattern[: match.start()] if match else pattern
            if len(prefix) > 1:
                prefixes.append(prefix)
            else:
                wild.append(pattern)
        self._suffixes = tuple(suffixes)
        self._prefixes = tuple(prefixes)
        self._wild = bool(wild)
        self._wanters = tuple(
            c for c in self.catalogers if getattr(type(c), "wants", None) is not GlobCataloger.wants
        )
        self._reducers: dict[int, ReducingCataloger] = {
            id(c): c for c in self._wanters if isinstance(c, ReducingCataloger)
        }

    def by_glob(self, path: str) -> bool:
        """Whether `path` matches any glob."""
        regexes = self._by_name.get(path[path.rfind("/") + 1 :])
        if regexes is not None and any(r.match(path) for r in regexes):
            return True
        if path.endswith(self._suffixes) or path.startswith(self._prefixes) or self._wild:
            return any(r.match(path) for r in self._confirm)
        return False

    def wanted_by(self, path: str, size: int, mode: int) -> Cataloger | None:
        """The first cataloger whose `wants()` accepts a file no glob names."""
        for c in self._wanters:
            if c.wants(path, size, mode):
                return c
        return None

    def reducer(self, cataloger: Cataloger) -> ReducingCataloger | None:
        """`cataloger` as a `ReducingCataloger`, if it is one."""
        return self._reducers.get(id(cataloger))
