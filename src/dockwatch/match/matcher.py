"""Match results: what matched, why it was looked up that way, and what could not be decided."""

from __future__ import annotations

from dockwatch.model.package import Package
from dockwatch.value_class import frozen

#: package type -> OSV ecosystem of its advisories (OS packages use the distribution release)
LANGUAGE_ECOSYSTEMS: dict[str, str] = {
    "python": "PyPI",
    "npm": "npm",
    "java": "Maven",
    "go": "Go",
    "rust": "crates.io",
    "gem": "RubyGems",
    "composer": "Packagist",
    "nuget": "NuGet",
    "bitnami": "Bitnami",
}


@frozen
class MatchEvidence:
    """How a match was found (cf. grype's match details)."""

    searched_by: str
    """Why the package was looked up under this key: `source package`, `binary package`,
    `ecosystem name`."""
    ecosystem: str
    """The advisory ecosystem searched (`Debian:12`, `PyPI`)."""
    name: str
    """The package name searched (normalized)."""
    version: str
    """The version compared."""
    scheme: str
    """The version scheme that ordered it."""
    via: str
    """`range` or `versions` (listed explicitly) or `status` (the source's own verdict)."""
    range_index: int | None = None
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None


@frozen
class Match:
    """One package affected by one advisory."""

    package: Package
    source: str
    advisory_id: str
    fixed_version: str | None
    """The version that fixes it for this package, None when no fix is known."""
    status: str
    """The source's status for the package (`affected`, `wont_fix`)."""
    evidence: MatchEvidence


@frozen
class IndeterminateMatch:
    """An advisory that may apply but whose verdict cannot be computed (never a silent miss)."""

    package: Package
    source: str
    advisory_id: str
    reason: str


@frozen
class MatchReport:
    """Everything `match` found for one inventory."""

    matches: tuple[Match, ...]
    indeterminate: tuple[IndeterminateMatch, ...]
    unsupported_os: str | None
    """Why OS packages were not matched (unknown or end-of-life distribution), else None."""
    os_ecosystem: str | None
    """The advisory ecosystem OS packages were matched in (`Debian:12`)."""
    db_version: int
