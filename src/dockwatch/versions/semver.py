"""Semantic Versioning 2.0.0 (https://semver.org), as npm, crates.io, Hex and NuGet use it.

SemVer precedence: major, minor and patch compare numerically; a version with a pre-release
sorts before the same version without; pre-release identifiers compare left to right, numeric
ones numerically and below alphanumeric ones (compared in ASCII order), and a longer list wins
when all shared identifiers are equal. Build metadata is ignored. The tuple key encodes exactly
that. Written here because `packaging` is PEP 440 only and the PyPI `semver` packages disagree
on leniency; each ecosystem's leniency is a subclass flag instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from dockwatch.versions.scheme import BaseScheme

logger = logging.getLogger(__name__)

_NUM = r"0|[1-9][0-9]*"
_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
STRICT = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_ID}(?:\.{_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)

PreKey = tuple[tuple[int, int | str], ...]
SemverKey = tuple[tuple[int, ...], tuple[int] | tuple[int, PreKey]]


def prerelease_key(pre: str | None, fold_case: bool = False) -> tuple[int] | tuple[int, PreKey]:
    """(1,) for a release, (0, identifiers) for a pre-release, so releases sort last."""
    if pre is None:
        return (1,)
    ids: list[tuple[int, int | str]] = []
    for ident in pre.split("."):
        if ident.isdigit():
            ids.append((0, int(ident)))
        else:
            ids.append((1, ident.lower() if fold_case else ident))
    return (0, tuple(ids))


class SemverScheme(BaseScheme):
    """Strict SemVer 2.0.0; subclasses relax what each ecosystem's tools accept."""

    ecosystem = "SEMVER"
    #: an optional prefix dropped before parsing (node-semver's strict grammar allows `v1.2.3`)
    strip_prefix = ""

    def _match(self, version: str) -> re.Match[str]:
        s = version.strip()
        if self.strip_prefix and s.startswith(self.strip_prefix):
            s = s[len(self.strip_prefix) :]
        m = STRICT.fullmatch(s)
        if m is None:
            raise self.invalid(version, "not a SemVer 2.0.0 version")
        return m

    def _parse(self, version: str) -> SemverKey:
        m = self._match(version)
        numbers = (int(m["major"]), int(m["minor"]), int(m["patch"]))
        return numbers, prerelease_key(m["pre"])

    def _coarse_parts(self, version: str) -> tuple[int, Sequence[int], bool]:
        key: SemverKey = self._cached(version)
        return 0, key[0], False


class ShortSemverScheme(SemverScheme):
    """SemVer-like versions whose minor and patch may be absent (read as 0), in a grammar of the
    ecosystem's own: `grammar` has the groups `major`, `minor`, `patch` and `pre`."""

    grammar: re.Pattern[str]
    #: what a version that does not match is not, in the error
    form: str

    def _parse(self, version: str) -> SemverKey:
        m = self.grammar.fullmatch(version.strip())
        if m is None:
            raise self.invalid(version, f"not a {self.form}")
        numbers = (int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0))
        return numbers, prerelease_key(m["pre"])


class NpmScheme(SemverScheme):
    """npm: node-semver's strict parse, which tolerates a leading `v`."""

    ecosystem = "npm"
    strip_prefix = "v"


class CratesScheme(SemverScheme):
    """crates.io: Cargo's `semver` crate, strict SemVer 2.0.0."""

    ecosystem = "crates.io"


class HexScheme(SemverScheme):
    """Hex (Elixir `Version`): strict SemVer 2.0.0."""

    ecosystem = "Hex"


_NUGET = re.compile(
    r"[vV]?(?P<nums>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class NuGetScheme(SemverScheme):
    """NuGet: 1 to 4 numeric parts (`1.0` = `1.0.0.0`), leading zeros allowed, labels compared
    case-insensitively (NuGet.Versioning `VersionComparer.Default`)."""

    ecosystem = "NuGet"

    def _parse(self, version: str) -> SemverKey:
        m = _NUGET.fullmatch(version.strip())
        if m is None:
            raise self.invalid(version, "not a NuGet version")
        nums = [int(x) for x in m["nums"].split(".")]
        nums += [0] * (4 - len(nums))
        pre = m["pre"]
        if pre is not None:
            for ident in pre.split("."):
                if ident.isdigit() and len(ident) > 1 and ident[0] == "0":
                    raise self.invalid(version, "numeric label with a leading zero")
        return tuple(nums), prerelease_key(pre, fold_case=True)
