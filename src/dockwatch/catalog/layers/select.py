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
    layer, so globs are indexed by their last component: an exact basename is a dict lookup;
    any other glob gets a literal guard, the text after the last wildcard of its basename (a
    suffix: `.txt` for `requirements*.txt`, `ar` for `*.[jwesp]ar`) and the text before the
    first wildcard of the whole pattern (a prefix: `/opt/bitnami/`). One `str.endswith` over
    every suffix turns most paths away; only a path passing a glob's guards is confirmed
    against that glob, so a new manifest glob costs nothing on paths that cannot match it.
    """

    def __init__(self, catalogers: Iterable[Cataloger], extra_globs: Iterable[str] = ()) -> None:
        self.catalogers = tuple(catalogers)
        patterns = sorted({*extra_globs, *(g for c in self.catalogers for g in c.globs)})
        self._by_name: dict[str, list[re.Pattern[str]]] = {}
        guarded: list[tuple[str, str, re.Pattern[str]]] = []
        for pattern in patterns:
            regex = _compile(pattern)
            base = pattern.rsplit("/", 1)[-1]
            if not _WILD.search(base):
                self._by_name.setdefault(base, []).append(regex)
                continue
            tail = base[max(base.rfind(c) for c in "*?]") + 1 :]
            first = _WILD.search(pattern)
            prefix = pattern[: first.start()] if first else pattern
            guarded.append((tail, prefix, regex))
        self._guarded = tuple(guarded)
        #: every non-empty suffix at once; a glob whose basename ends in a wildcard
        #: (`/var/lib/dpkg/status.d/*`) is guarded by its prefix instead (`/` if none)
        self._suffixes = tuple(sorted({t for t, _, _ in guarded if t}))
        self._open_prefixes = tuple(sorted({p or "/" for t, p, _ in guarded if not t}))
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
        if not path.endswith(self._suffixes) and not path.startswith(self._open_prefixes):
            return False
        return any(
            path.endswith(tail) and path.startswith(prefix) and regex.match(path) is not None
            for tail, prefix, regex in self._guarded
        )

    def wanted_by(self, path: str, size: int, mode: int) -> Cataloger | None:
        """The first cataloger whose `wants()` accepts a file no glob names."""
        for c in self._wanters:
            if c.wants(path, size, mode):
                return c
        return None

    def reducer(self, cataloger: Cataloger) -> ReducingCataloger | None:
        """`cataloger` as a `ReducingCataloger`, if it is one."""
        return self._reducers.get(id(cataloger))
