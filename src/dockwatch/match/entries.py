"""Affected entries as the matcher evaluates them, and what a delta keeps of them.

An entry is decoded and its ranges prepared once, when its key is first looked up. A delta
rewrites every entry of each key it touches, yet most of them are as they were (the other
advisories about the package, an advisory whose summary alone changed): `Earlier` keeps a
changed key's entries and verdicts so that such an entry is reused rather than prepared and
evaluated again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockwatch.model.advisory import Event, EventKind, RangeType
from dockwatch.value_class import frozen
from dockwatch.versions import Range, ranges_from_osv, scheme_for
from dockwatch.versions.ranges import PreparedEntry, prepare
from dockwatch.versions.scheme import UnknownEcosystem


@frozen
class IndexedEntry:
    """An affected entry ready to evaluate."""

    source: str
    advisory_id: str
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]
    status: str
    problem: str | None
    """Why its ranges could not be parsed (the verdict is then indeterminate)."""
    prepared: PreparedEntry | None
    """Events keyed and sorted once (None when the ecosystem has no scheme)."""


_TYPES = {t.value: t for t in RangeType}
_KINDS = {k.value: k for k in EventKind}


def stored_ranges(raw: object) -> tuple[Range, ...] | None:
    """The ranges of a stored entry (`[[type, repo, [[kind, version], ...]], ...]`), built
    directly when they are what `ranges_from_osv` accepts (as stored entries are: the database
    validated them), else None (then the OSV path says what is wrong). A third of what the
    OSV path costs, over the 6,000 ranges of the keys a 1,000-advisory update touches."""
    if type(raw) is not list:
        return None
    out: list[Range] = []
    for item in raw:
        if type(item) is not list or len(item) != 3:
            return None
        rtype, repo, events = item
        kind_of = _TYPES.get(rtype) if type(rtype) is str else None
        if kind_of is None or type(events) is not list or not events:
            return None
        built: list[Event] = []
        for ev in events:
            if type(ev) is not list or len(ev) != 2:
                return None
            name, version = ev
            kind = _KINDS.get(name) if type(name) is str else None
            if kind is None or type(version) is not str or not version:
                return None
            built.append(Event(kind, version))
        out.append(Range(kind_of, tuple(built), repo if type(repo) is str else None))
    return tuple(out)


def make_entry(source: str, advisory_id: str, ecosystem: str, e: dict[str, Any]) -> IndexedEntry:
    problem = None
    raw = e.get("ranges", [])
    ranges = stored_ranges(raw)
    if ranges is None:
        ranges = ()
        try:
            ranges = ranges_from_osv(
                {
                    "type": rtype,
                    "repo": repo_url,
                    "events": [{kind: version} for kind, version in events],
                }
                for rtype, repo_url, events in raw
            )
        except ValueError as exc:
            problem = f"unusable range: {exc}"
    versions = tuple(e.get("versions", ()))
    try:
        scheme = scheme_for(ecosystem)
    except UnknownEcosystem:
        scheme = None
    prepared = None if scheme is None or problem else prepare(scheme, ranges, versions)
    return IndexedEntry(
        source,
        advisory_id,
        ranges,
        versions,
        e.get("status", "affected"),
        problem,
        prepared,
    )


def same(entry: IndexedEntry, e: dict[str, Any]) -> bool:
    """Whether the stored entry `e` is what `entry` was made from: its status, versions and
    ranges are what `make_entry` reads (the rest of an entry does not change a verdict)."""
    return (
        entry.problem is None
        and entry.status == e.get("status", "affected")
        and entry.versions == tuple(e.get("versions", ()))
        and [
            [r.type.value, r.repo, [[ev.kind.value, ev.version] for ev in r.events]]
            for r in entry.ranges
        ]
        == e.get("ranges", [])
    )


Verdicts = tuple[tuple[IndexedEntry, object], ...]


@dataclass(slots=True)
class Earlier:
    """A changed key's entries as they were prepared before the change, and their verdicts by
    version. A delta rewrites every entry of each key it touches, yet most of them are as they
    were (the other advisories about the package, an advisory whose summary alone changed): such
    an entry is reused as it is, with its verdicts, instead of being prepared and evaluated
    again (at a 1,000-advisory update, four entries in five of the keys it touches)."""

    entries: dict[tuple[str, str], list[IndexedEntry]]
    """By (source, advisory id)."""
    verdicts: dict[str, dict[int, object]]
    """version -> id of an entry -> its verdict, for the versions every entry was evaluated
    at; an entry absent from a version's map was not affected (or is `not_affected`)."""
    ids: frozenset[int] = frozenset()
    """Ids of the entries (alive while this is: `entries` holds them)."""

    @staticmethod
    def of(entries: list[IndexedEntry], verdicts: dict[str, Verdicts]) -> Earlier:
        by_version = {v: {id(e): verdict for e, verdict in got} for v, got in verdicts.items()}
        by_advisory: dict[tuple[str, str], list[IndexedEntry]] = {}
        for e in entries:
            by_advisory.setdefault((e.source, e.advisory_id), []).append(e)
        return Earlier(by_advisory, by_version, frozenset(id(e) for e in entries))

    def reuse(
        self, source: str, advisory_id: str, e: dict[str, Any], taken: set[int]
    ) -> IndexedEntry | None:
        """The entry made from what `e` holds, if there was one not `taken` yet (then it is).
        Nothing here is ever removed: an id in `ids` always names the entry it named."""
        for entry in self.entries.get((source, advisory_id), ()):
            if id(entry) not in taken and same(entry, e):
                taken.add(id(entry))
                return entry
        return None
