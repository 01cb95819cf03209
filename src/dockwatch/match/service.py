"""`match(packages, distro)`: one verdict per distinct (package key, version), with evidence.

The index holds every affected entry of the database in memory, keyed by (ecosystem, name),
with its ranges parsed once; it is rebuilt or patched when the database version moves. A verdict
is computed once per distinct (ecosystem, name, version) and reused for every image holding
that package, so matching costs grow with distinct packages, not with images.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from dockwatch.distros import Supported, lookup_distro, matched_by_binary
from dockwatch.model.advisory import normalize_package_name
from dockwatch.model.distro import Distro
from dockwatch.model.package import OS_PACKAGE_TYPES, Package
from dockwatch.model.package_doc import dump_package, package_ref
from dockwatch.storage.unit_of_work import Store
from dockwatch.storage.vuln_repo import AffectedRow
from dockwatch.versions import (
    Affected,
    Indeterminate,
    Range,
    fixed_versions,
    ranges_from_osv,
    scheme_for,
)
from dockwatch.versions.ranges import PreparedEntry, evaluate_prepared, prepare
from dockwatch.versions.scheme import InvalidVersion, UnknownEcosystem

from .matcher import LANGUAGE_ECOSYSTEMS, IndeterminateMatch, Match, MatchEvidence, MatchReport

logger = logging.getLogger(__name__)

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
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


def _entry(row: AffectedRow) -> IndexedEntry:
    e = row.entry
    problem = None
    ranges: tuple[Range, ...] = ()
    try:
        ranges = ranges_from_osv(
            {
                "type": rtype,
                "repo": repo_url,
                "events": [{kind: version} for kind, version in events],
            }
            for rtype, repo_url, events in e.get("ranges", [])
        )
    except ValueError as exc:
        problem = f"unusable range: {exc}"
    versions = tuple(e.get("versions", ()))
    try:
        scheme = scheme_for(row.ecosystem)
    except UnknownEcosystem:
        scheme = None
    prepared = None if scheme is None or problem else prepare(scheme, ranges, versions)
    return IndexedEntry(
        row.source,
        row.advisory_id,
        ranges,
        versions,
        e.get("status", "affected"),
        problem,
        prepared,
    )


class MatchIndex:
    """The database's affected entries in memory, plus a verdict cache."""

    def __init__(self, store: Store, keys: Iterable[Key] | None = None) -> None:
        """`keys` restricts the index to those (ecosystem, name) keys: a one-image CLI run
        loads the few hundred entries it needs, not the whole database (~4 s)."""
        self.store = store
        self._only = None if keys is None else sorted(set(keys))
        self.version = -1
        self._entries: dict[Key, list[IndexedEntry]] = {}
        self._verdicts: dict[tuple[str, str, str], tuple[tuple[IndexedEntry, object], ...]] = {}
        self._lock = threading.Lock()

    def refresh(self) -> int:
        """Bring the index up to the database's current version; returns it."""
        with self.store.read() as uow:
            vulns = uow.vulns
            current = vulns.current_version()
            if current == self.version:
                return current
            if self.version < 0:
                entries: dict[Key, list[IndexedEntry]] = {}
                rows = (
                    vulns.all_affected() if self._only is None else vulns.affected_for(self._only)
                )
                for row in rows:
                    entries.setdefault((row.ecosystem, row.name), []).append(_entry(row))
                with self._lock:
                    self._entries, self._verdicts, self.version = entries, {}, current
                return current
            changed_keys: set[Key] = set()
            for _v, _source, _aid, _change, keys in vulns.changes_between(self.version, current):
                changed_keys.update((k[0], k[1]) for k in keys)
            if self._only is not None:
                changed_keys &= set(self._only)
            fresh: dict[Key, list[IndexedEntry]] = {k: [] for k in changed_keys}
            for row in vulns.affected_for(changed_keys):
                fresh[(row.ecosystem, row.name)].append(_entry(row))
        with self._lock:
            for key, value in fresh.items():
                if value:
                    self._entries[key] = value
                else:
                    self._entries.pop(key, None)
            self._verdicts = {
                k: v for k, v in self._verdicts.items() if (k[0], k[1]) not in changed_keys
            }
            self.version = current
        return current

    def verdicts(
        self, ecosystem: str, name: str, version: str
    ) -> tuple[tuple[IndexedEntry, object], ...]:
        """(entry, verdict) for every entry of the key that is not NotAffected; cached."""
        cache_key = (ecosystem, name, version)
        cached = self._verdicts.get(cache_key)
        if cached is not None:
            return cached
        out: list[tuple[IndexedEntry, object]] = []
        entries = self._entries.get((ecosystem, name), [])
        if entries:
            try:
                scheme = scheme_for(ecosystem)
            except UnknownEcosystem:
                scheme = None
            for entry in entries:
                if entry.status == "not_affected":
                    continue
                if entry.status == "undetermined":
                    out.append(
                        (
                            entry,
                            Indeterminate(
                                "the source has not determined whether this release is affected"
                            ),
                        )
                    )
                    continue
                if entry.problem is not None:
                    out.append((entry, Indeterminate(entry.problem)))
                    continue
                if scheme is None:
                    out.append((entry, Indeterminate(f"no version scheme for {ecosystem}")))
                    continue
                assert entry.prepared is not None
                verdict = evaluate_prepared(version, scheme, entry.prepared)
                if (
                    isinstance(verdict, Affected)
                    and verdict.fixed is None
                    and verdict.via == "versions"
                ):
                    # listed explicitly: the fix is still the `fixed` event closing its interval
                    try:
                        fixes = fixed_versions(version, scheme, entry.ranges)
                    except InvalidVersion:  # listed verbatim, yet not a version of the scheme
                        fixes = ()
                    if fixes:
                        verdict = dataclasses.replace(verdict, fixed=fixes[0])
                if isinstance(verdict, Affected | Indeterminate):
                    out.append((entry, verdict))
        result = tuple(out)
        self._verdicts[cache_key] = result
        return result


def lookup_key(pkg: Package, os_ecosystem: str | None) -> tuple[Key, str, str] | None:
    """(key, searched_by, version) to look a package up under, or None when it has no route.

    OS packages go by their source package in the distribution release (by their binary package
    where the distribution advises by binary: SUSE, openSUSE); a file-based package
    owned by an OS package is not looked up at all: its owner is in the inventory and matches
    through the distribution's advisories (which know about the distribution's patches).
    """
    if pkg.type in OS_PACKAGE_TYPES:
        if os_ecosystem is None:
            return None
        if pkg.source_name and not matched_by_binary(os_ecosystem):
            return (
                (os_ecosystem, pkg.source_name),
                "source package",
                pkg.source_version or pkg.version,
            )
        return (os_ecosystem, pkg.name), "binary package", pkg.version
    if pkg.os_package is not None:
        return None
    ecosystem = LANGUAGE_ECOSYSTEMS.get(pkg.type)
    if ecosystem is None:
        return None
    if pkg.type == "go" and pkg.name == "stdlib":
        return (
            (ecosystem, "stdlib"),
            "ecosystem name",
            pkg.version.removeprefix("go").removeprefix("v"),
        )
    return (ecosystem, normalize_package_name(ecosystem, pkg.name)), "ecosystem name", pkg.version


def match(
    packages: Sequence[Package], distro: Distro | None, index: MatchIndex, *, today: date
) -> MatchReport:
    """Every advisory affecting `packages` on `distro`, with evidence and indeterminate verdicts."""
    db_version = index.refresh()
    os_ecosystem: str | None = None
    unsupported: str | None = None
    if distro is not None:
        support = lookup_distro(distro, today=today)
        if isinstance(support, Supported):
            os_ecosystem = support.release.ecosystem
        else:
            unsupported = support.detail
    elif any(p.type in OS_PACKAGE_TYPES for p in packages):
        unsupported = "OS packages found but no distribution identified"
    matches, undecided = match_packages(packages, os_ecosystem, index)
    return MatchReport(tuple(matches), tuple(undecided), unsupported, os_ecosystem, db_version)


def reverse_index_rows(
    packages: Iterable[Package], os_ecosystem: str | None
) -> tuple[set[tuple[str, str, str, str]], dict[str, bytes]]:
    """((layer digest, ecosystem, name, package ref) rows, package documents by ref) of an
    inventory: the reverse index a feed delta is mapped through, down to the package, so a
    re-match loads only the packages the delta names."""
    rows: set[tuple[str, str, str, str]] = set()
    docs: dict[str, bytes] = {}
    for pkg in packages:
        route = lookup_key(pkg, os_ecosystem)
        if route is None:
            continue
        doc = dump_package(pkg)
        ref = package_ref(doc)
        docs[ref] = doc
        rows.add((pkg.layer_digest or "", route[0][0], route[0][1], ref))
    return rows, docs


def match_packages(
    packages: Iterable[Package], os_ecosystem: str | None, index: MatchIndex
) -> tuple[list[Match], list[IndeterminateMatch]]:
    """Matches of packages whose distribution release is already decided (`os_ecosystem`,
    None for none or an unsupported one); the index is used as it is, not refreshed."""
    matches: list[Match] = []
    undecided: list[IndeterminateMatch] = []
    for pkg in packages:
        route = lookup_key(pkg, os_ecosystem)
        if route is None:
            continue
        (ecosystem, name), searched_by, version = route
        for entry, verdict in index.verdicts(ecosystem, name, version):
            if isinstance(verdict, Indeterminate):
                undecided.append(
                    IndeterminateMatch(pkg, entry.source, entry.advisory_id, verdict.reason)
                )
                continue
            assert isinstance(verdict, Affected)
            fixed = None if entry.status == "wont_fix" else verdict.fixed
            evidence = MatchEvidence(
                searched_by=searched_by,
                ecosystem=ecosystem,
                name=name,
                version=version,
                scheme=ecosystem.split(":", 1)[0],
                via=verdict.via,
                range_index=verdict.range_index,
                introduced=verdict.introduced,
                fixed=verdict.fixed,
                last_affected=verdict.last_affected,
            )
            matches.append(
                Match(pkg, entry.source, entry.advisory_id, fixed, entry.status, evidence)
            )
    return matches, undecided


def affected_keys(packages: Iterable[Package], os_ecosystem: str | None) -> set[Key]:
    """The (ecosystem, name) keys an inventory is looked up under (for the reverse index)."""
    out: set[Key] = set()
    for pkg in packages:
        route = lookup_key(pkg, os_ecosystem)
        if route is not None:
            out.add(route[0])
    return out
