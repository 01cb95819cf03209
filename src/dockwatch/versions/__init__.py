"""Version ordering per ecosystem and OSV range evaluation (see scheme.py and ranges.py)."""

from dockwatch.model.advisory import Event, EventKind, Range
from dockwatch.versions.ranges import (
    Affected,
    Indeterminate,
    InvalidRange,
    NotAffected,
    Verdict,
    evaluate,
    fixed_versions,
    range_from_osv,
    ranges_from_osv,
)
from dockwatch.versions.scheme import (
    InvalidVersion,
    UnknownEcosystem,
    VersionError,
    VersionScheme,
    base_ecosystem,
    is_known,
    known_ecosystems,
    scheme_for,
    supported_ecosystems,
)

__all__ = [
    "Affected",
    "Event",
    "EventKind",
    "Indeterminate",
    "InvalidRange",
    "InvalidVersion",
    "NotAffected",
    "Range",
    "UnknownEcosystem",
    "Verdict",
    "VersionError",
    "VersionScheme",
    "base_ecosystem",
    "evaluate",
    "fixed_versions",
    "is_known",
    "known_ecosystems",
    "range_from_osv",
    "ranges_from_osv",
    "scheme_for",
    "supported_ecosystems",
]
