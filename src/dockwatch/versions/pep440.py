"""PyPI versions, ordered by PEP 440 through `packaging.version` (the reference implementation)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from packaging.version import InvalidVersion as PackagingInvalidVersion
from packaging.version import Version

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)


class Pep440Scheme(BaseScheme):
    """PEP 440 versions; `packaging.version.Version` objects are the sort keys."""

    ecosystem = "PyPI"

    def _parse(self, version: str) -> Version:
        try:
            return Version(version)
        except PackagingInvalidVersion as e:
            raise self.invalid(version, "not a PEP 440 version") from e

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        # Releases compare as zero-padded tuples before pre/post/dev/local parts are looked at,
        # so the first release components (zero-filled) are a monotonic prefix.
        v: Version = self._cached(version)
        return v.epoch, v.release, False
