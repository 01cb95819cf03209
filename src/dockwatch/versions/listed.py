"""Is a version in an OSV entry's explicit `versions` list, as `scheme.key` equality decides?

Keying every listed version when an entry is prepared was most of what preparing cost (a PyPI
entry lists about a hundred versions; a 1,000-advisory update keyed 484,000 of them, to check
each entry about three times). Here a version listed verbatim needs nothing more; otherwise the
list's tokens (`BaseScheme.listed_tokens`: values equal exactly when the keys are, memoised per
version string, so a list seen before costs one C-level pass) are taken once per entry, when a
check first needs them. `tests/unit/versions/test_listed.py` checks the answer against plain
`scheme.key` equality for random versions and lists of every scheme.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from dockwatch.versions.scheme import BaseScheme, InvalidVersion, SortKey, VersionScheme


class ListedVersions:
    """One entry's `versions`, and their tokens once a check has needed them."""

    __slots__ = ("_keys", "versions")

    def __init__(self, versions: Sequence[str]) -> None:
        self.versions = tuple(versions)
        """As listed."""
        self._keys: frozenset[Hashable] | list[Any] | None = None

    def holds(self, version: str, key: SortKey | None, scheme: VersionScheme) -> bool:
        """Whether `version` (whose key is `key`, None if the scheme rejects it) is listed
        verbatim or is key-equal to a listed version the scheme accepts."""
        if key is None:
            return version in self.versions
        # listed verbatim is listed by key too (the version's own key, so its own token)
        keys = self._keys
        if keys is None:
            keys = self._keys = _tokens(self.versions, scheme)
        if isinstance(keys, frozenset):
            assert isinstance(scheme, BaseScheme)
            return scheme.token_of(version) in keys
        return version in self.versions or any(k == key for k in keys)


def _tokens(versions: tuple[str, ...], scheme: VersionScheme) -> frozenset[Hashable] | list[Any]:
    """The tokens of the listed versions, or (a scheme without tokens, or unhashable ones)
    the keys of those the scheme accepts, compared one by one."""
    # tokens are cached by string: a `str` subclass (which `key` rejects) must not share them
    if isinstance(scheme, BaseScheme) and set(map(type, versions)) <= {str}:
        try:
            return scheme.listed_tokens(versions)
        except TypeError:  # unhashable tokens
            pass
    keys: list[Any] = []
    for v in versions:
        try:
            keys.append(scheme.key(v))
        except InvalidVersion:
            continue
    return keys
