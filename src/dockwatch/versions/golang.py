"""Go module versions (https://go.dev/ref/mod#versions), ordered as golang.org/x/mod/semver.

A module version is `v` + SemVer; pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`,
`v1.2.4-0.20191109021931-daa7c04131f5`) are pre-releases and so already order by SemVer, and
`+incompatible` is build metadata, ignored by comparison. The Go vulnerability database writes
versions without the `v` (`1.20.5`), so both forms are accepted. x/mod/semver also accepts the
shorthands `v1` and `v1.2` (as `v1.0.0`, `v1.2.0`).
"""

from __future__ import annotations

import logging
import re

from dockwatch.versions.semver import _ID, _NUM, ShortSemverScheme

logger = logging.getLogger(__name__)

_GO = re.compile(
    rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_ID}(?:\.{_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?"
)


class GoScheme(ShortSemverScheme):
    """Go modules and the standard library (`stdlib`, `toolchain`) in the Go vulndb."""

    ecosystem = "Go"
    grammar = _GO
    form = "Go module version"

    @staticmethod
    def is_pseudo(version: str) -> bool:
        """True for pseudo-versions (a commit, not a tag), which matchers may report as such."""
        return (
            re.search(r"(^|[-.])(0\.)?[0-9]{14}-[0-9a-f]{12}(\+incompatible)?$", version)
            is not None
        )
