"""OSV range evaluation (https://ossf.github.io/osv-schema/#affectedranges-field) over a scheme.

For each ECOSYSTEM or SEMVER range the events are sorted by version (`introduced: "0"` first;
events naming equal versions keep the record's order, as a stable sort does, so
`fixed: 2.0.0, introduced: 2.0.0` reopens the range at 2.0.0) and walked as the schema's
evaluation describes: `introduced` turns "affected" on for versions at or above
it, `fixed` turns it off at or above it, `last_affected` off strictly above it; a version at or
not below any of its `limit` events is outside the range (a limit containing `*` is infinity).
A version is affected if it is in the explicit `versions` list (exactly, or equal under the
scheme, so PyPI's `1.0` matches a listed `1.0.0`) or in any range. GIT ranges order commits,
not package versions: they never decide.

The verdict is never a silent "not affected" for something we cannot order: an unparseable
package version, an unparseable event version, or an entry with nothing we can evaluate gives
`Indeterminate` with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dockwatch.model.advisory import Event, EventKind, Range, RangeType
from dockwatch.value_class import frozen
from dockwatch.versions.listed import ListedVersions
from dockwatch.versions.scheme import InvalidVersion, SortKey, VersionError, VersionScheme

logger = logging.getLogger(__name__)


ORDERED_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})


class InvalidRange(VersionError, ValueError):
    """An OSV range that does not follow the schema (unknown type or event, missing value)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        """What is wrong with it."""
        super().__init__(f"invalid OSV range: {reason}")


def range_from_osv(data: Mapping[str, Any]) -> Range:
    """One range from OSV JSON; raises `InvalidRange` for anything the schema does not allow."""
    if not isinstance(data, Mapping):
        raise InvalidRange("range is not an object")
    rtype = data.get("type")
    if rtype not in ("ECOSYSTEM", "SEMVER", "GIT"):
        raise InvalidRange(f"unknown range type {str(rtype)[:50]!r}")
    raw = data.get("events")
    if not isinstance(raw, list) or not raw:
        raise InvalidRange("events must be a non-empty list")
    events: list[Event] = []
    for item in raw:
        if not isinstance(item, Mapping) or len(item) != 1:
            raise InvalidRange("each event must have exactly one key")
        ((name, value),) = item.items()
        try:
            kind = EventKind(name)
        except ValueError as e:
            raise InvalidRange(f"unknown event {str(name)[:50]!r}") from e
        if not isinstance(value, str) or not value:
            raise InvalidRange(f"{kind} must be a non-empty string")
        events.append(Event(kind, value))
    repo = data.get("repo")
    return Range(RangeType(rtype), tuple(events), repo if isinstance(repo, str) else None)


def ranges_from_osv(items: Iterable[Mapping[str, Any]]) -> tuple[Range, ...]:
    """All ranges of one OSV `affected` entry; raises `InvalidRange` on the first bad one."""
    return tuple(range_from_osv(item) for item in items)


@frozen
class Affected:
    """The version is affected, and why."""

    via: str
    """`versions` (listed explicitly) or `range`."""
    range_index: int | None = None
    """Index of the deciding range in the entry's `ranges`."""
    introduced: str | None = None
    """The `introduced` event that opened the interval holding the version."""
    fixed: str | None = None
    """The `fixed` event closing that interval, if any: the version to upgrade to."""
    last_affected: str | None = None
    """The `last_affected` event closing that interval, if any."""


@frozen
class NotAffected:
    """The version is outside every range and not listed."""


@frozen
class Indeterminate:
    """No exact answer: the reason says what could not be ordered."""

    reason: str
    """Human-readable cause (an invalid version, an entry with only GIT ranges, ...)."""


Verdict = Affected | NotAffected | Indeterminate


@frozen
class _Interval:
    introduced: str | None
    closed_by: Event | None


def _sorted_events(rng: Range, scheme: VersionScheme) -> list[tuple[Event, SortKey | None]]:
    """Events with keys, sorted; `introduced: "0"` has key None (before everything).

    Raises InvalidVersion for an event version the scheme rejects.
    """
    keyed: list[tuple[Event, SortKey | None]] = []
    for ev in rng.events:
        if ev.kind == EventKind.INTRODUCED and ev.version == "0":
            keyed.append((ev, None))
        elif ev.kind == EventKind.LIMIT and "*" in ev.version:
            keyed.append((ev, None))  # infinity
        else:
            keyed.append((ev, scheme.key(ev.version)))
    zeros = [item for item in keyed if item[1] is None]
    rest = [item for item in keyed if item[1] is not None]
    rest.sort(key=_KeyBox.of)  # stable: equal versions keep the record's order
    return zeros + rest


class _KeyBox:
    """Adapter so `list.sort` can use SortKeys without a `key` type that mypy rejects."""

    __slots__ = ("k",)

    def __init__(self, k: SortKey) -> None:
        self.k = k

    @staticmethod
    def of(item: tuple[Event, SortKey | None]) -> _KeyBox:
        assert item[1] is not None
        return _KeyBox(item[1])

    def __lt__(self, other: _KeyBox) -> bool:
        return bool(self.k < other.k)


def _walk(events: list[tuple[Event, SortKey | None]], v: SortKey) -> _Interval | None:
    """The schema's walk: the interval holding `v`, or None if `v` is not in this range."""
    limits = [k for ev, k in events if ev.kind == EventKind.LIMIT]
    if limits and not any(k is None or v < k for k in limits):
        return None  # BeforeLimits: below at least one limit, or no limits at all
    affected = False
    introduced: str | None = None
    for ev, k in events:
        if ev.kind == EventKind.INTRODUCED:
            if k is None or v >= k:
                affected, introduced = True, ev.version
        elif ev.kind == EventKind.FIXED:
            if k is not None and v >= k:
                affected = False
        elif ev.kind == EventKind.LAST_AFFECTED:
            if k is not None and v > k:
                affected = False
    if not affected:
        return None
    closer: Event | None = None
    for ev, k in events:
        if ev.kind in (EventKind.FIXED, EventKind.LAST_AFFECTED) and k is not None:
            if (ev.kind == EventKind.FIXED and k > v) or (
                ev.kind == EventKind.LAST_AFFECTED and k >= v
            ):
                closer = ev
                break
    return _Interval(introduced, closer)


@frozen
class PreparedEntry:
    """An OSV `affected` entry with its events keyed and sorted once, for repeated evaluation.

    Sorting events dominates a one-off `evaluate`; the matcher evaluates the same entry for
    many package versions, so it prepares each entry once when it loads the database.
    """

    versions: tuple[str, ...]
    ranges: tuple[tuple[int, list[tuple[Event, SortKey | None]] | InvalidVersion], ...]
    """(index in the entry's ranges, sorted keyed events or why they cannot be ordered)."""
    has_any_range: bool
    """The entry had ranges, ordered or not (only GIT ranges differ from none at all)."""
    beyond: tuple[tuple[SortKey | None, bool], ...] = ()
    """Per prepared range: its largest event key, and whether a version above every event is
    affected. A version past a closed range is rejected with one comparison."""
    listed: ListedVersions = ListedVersions(())
    """The listed versions as checked (`versions/listed.py`: keyed only when a check needs it)."""


def prepare(
    scheme: VersionScheme, ranges: Sequence[Range] = (), versions: Sequence[str] = ()
) -> PreparedEntry:
    """Key and sort every ordered range of one entry."""
    prepared: list[tuple[int, list[tuple[Event, SortKey | None]] | InvalidVersion]] = []
    beyond: list[tuple[SortKey | None, bool]] = []
    for index, rng in enumerate(ranges):
        if rng.type not in ORDERED_TYPES:
            continue
        try:
            events = _sorted_events(rng, scheme)
        except InvalidVersion as e:
            prepared.append((index, e))
            beyond.append((None, True))
            continue
        prepared.append((index, events))
        keys = [k for _, k in events if k is not None]
        if not keys:
            beyond.append((None, True))
            continue
        top = keys[0]
        for other in keys[1:]:
            if top < other:
                top = other
        # the walk for a version above every event: every event applies, in order
        state = False
        for ev, ek in events:
            if ev.kind == EventKind.INTRODUCED:
                state = True
            elif ev.kind in (EventKind.FIXED, EventKind.LAST_AFFECTED) and ek is not None:
                state = False
        limit_keys = [lk for ev, lk in events if ev.kind == EventKind.LIMIT]
        if limit_keys and all(lk is not None for lk in limit_keys):
            state = False
        beyond.append((top, state))
    listed = ListedVersions(versions)
    return PreparedEntry(listed.versions, tuple(prepared), bool(ranges), tuple(beyond), listed)


def evaluate(
    version: str,
    scheme: VersionScheme,
    ranges: Sequence[Range] = (),
    versions: Sequence[str] = (),
) -> Verdict:
    """Is `version` affected by one OSV `affected` entry (its ranges and explicit versions)?"""
    return evaluate_prepared(version, scheme, prepare(scheme, ranges, versions))


def evaluate_prepared(version: str, scheme: VersionScheme, entry: PreparedEntry) -> Verdict:
    """`evaluate` over a `PreparedEntry`."""
    try:
        key: SortKey | None = scheme.key(version)
        bad_version: InvalidVersion | None = None
    except InvalidVersion as e:
        key, bad_version = None, e
    versions = entry.versions
    if versions and entry.listed.holds(version, key, scheme):
        return Affected(via="versions")
    ordered = entry.ranges
    if bad_version is not None:
        if not ordered and not versions:
            return Indeterminate(f"no ECOSYSTEM or SEMVER range, and {bad_version}")
        if not ordered:
            return Indeterminate(f"not listed, and {bad_version}")
        return Indeterminate(str(bad_version))
    assert key is not None
    if not ordered:
        if versions:
            return NotAffected()
        if entry.has_any_range:
            return Indeterminate("only GIT ranges, which do not apply to package versions")
        return Indeterminate("the entry has neither ranges nor versions")
    problems: list[str] = []
    for n, (index, events) in enumerate(ordered):
        if isinstance(events, InvalidVersion):
            problems.append(f"range {index}: {events}")
            continue
        top, above_affected = entry.beyond[n] if entry.beyond else (None, True)
        if top is not None and not above_affected and top < key:
            continue  # past the end of a closed range
        interval = _walk(events, key)
        if interval is not None:
            closer = interval.closed_by
            return Affected(
                via="range",
                range_index=index,
                introduced=interval.introduced,
                fixed=closer.version if closer and closer.kind == EventKind.FIXED else None,
                last_affected=closer.version
                if closer and closer.kind == EventKind.LAST_AFFECTED
                else None,
            )
    if problems:
        return Indeterminate("; ".join(problems))
    return NotAffected()


def fixed_versions(
    version: str | None, scheme: VersionScheme, ranges: Sequence[Range]
) -> tuple[str, ...]:
    """The `fixed` versions that apply: for `version`, those closing each interval holding it
    (empty if it is not affected or no fix is known); for None, every `fixed` event, sorted.

    Ranges with an event version the scheme rejects are skipped (logged at debug); an
    unparseable `version` raises `InvalidVersion` (call `evaluate` first for a verdict).
    """
    out: dict[str, SortKey] = {}
    key = None if version is None else scheme.key(version)
    for rng in ranges:
        if rng.type not in ORDERED_TYPES:
            continue
        try:
            events = _sorted_events(rng, scheme)
        except InvalidVersion as e:
            logger.debug("skipping range with an unorderable event: %s", e)
            continue
        if key is None:
            for ev, k in events:
                if ev.kind == EventKind.FIXED and k is not None:
                    out[ev.version] = k
            continue
        interval = _walk(events, key)
        if interval and interval.closed_by and interval.closed_by.kind == EventKind.FIXED:
            out[interval.closed_by.version] = scheme.key(interval.closed_by.version)
    return tuple(sorted(out, key=lambda v: _KeyBox(out[v])))


def fixed_versions_prepared(
    version: str, scheme: VersionScheme, entry: PreparedEntry
) -> tuple[str, ...]:
    """`fixed_versions(version, ...)` over a `PreparedEntry`: the events keyed and sorted when
    the entry was prepared, not again per lookup (a version matched through an entry's explicit
    `versions` list asks for its fix: thousands of re-sorts in a large advisory update).

    Ranges whose events the scheme rejects are skipped, as `fixed_versions` does; an
    unparseable `version` raises `InvalidVersion`.
    """
    key = scheme.key(version)
    out: dict[str, SortKey] = {}
    for _index, events in entry.ranges:
        if isinstance(events, InvalidVersion):
            continue
        interval = _walk(events, key)
        if interval and interval.closed_by and interval.closed_by.kind == EventKind.FIXED:
            closer = interval.closed_by
            out[closer.version] = next(k for ev, k in events if ev is closer and k is not None)
    return tuple(sorted(out, key=lambda v: _KeyBox(out[v])))
