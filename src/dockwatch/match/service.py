"""`match(packages, distro)`: one verdict per distinct (package key, version), with evidence.

The index holds every affected entry of the database, keyed by (ecosystem, name), serialized as
stored; a key's entries are decoded and their ranges prepared once, when the key is first looked
up. It is patched with the delta when the database version moves, and persisted next to the
database (`index_file`) so a restart reads one file and the changes since, not every entry. A verdict
is computed once per distinct (ecosystem, name, version) and reused for every image holding
that package, so matching costs grow with distinct packages, not with images.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dockwatch.distros import Supported, by_ecosystem, lookup_distro
from dockwatch.model.advisory import normalize_package_name
from dockwatch.model.distro import Distro
from dockwatch.model.package import OS_PACKAGE_TYPES, Package
from dockwatch.model.package_doc import dump_package, package_ref
from dockwatch.storage.unit_of_work import Store
from dockwatch.storage.vuln_repo import VulnRepo
from dockwatch.versions import (
    Affected,
    Indeterminate,
    scheme_for,
)
from dockwatch.versions.ranges import evaluate_prepared, fixed_versions_prepared
from dockwatch.versions.scheme import InvalidVersion, UnknownEcosystem

from . import index_file, redhat
from .entries import Earlier, IndexedEntry, Verdicts, make_entry
from .matcher import LANGUAGE_ECOSYSTEMS, IndeterminateMatch, Match, MatchEvidence, MatchReport

logger = logging.getLogger(__name__)

Key = tuple[str, str]

INDEX_FILE = "match-index.bin"
"""The persisted index's name in a data folder."""


@dataclass(slots=True)
class _State:
    """One consistent view: the serialized entries of every key at `version`, the keys prepared
    so far, and the verdicts computed from them. Replaced whole when the version moves, so a
    lookup racing a refresh fills the view it started with."""

    version: int
    packed: index_file.Packed
    entries: dict[Key, list[IndexedEntry]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str, str], Verdicts] = field(default_factory=dict)
    earlier: dict[Key, Earlier] = field(default_factory=dict)
    """Changed keys' entries as prepared before their last change (see `Earlier`)."""


class MatchIndex:
    """The database's affected entries in memory, plus a verdict cache.

    With a `cache_file`, the index is persisted there: a start opens it (checked against the
    database's version and that version's creation time) and applies only the deltas made
    since; a missing, stale or corrupt file is rebuilt from the database."""

    def __init__(
        self,
        store: Store,
        keys: Iterable[Key] | None = None,
        *,
        cache_file: Path | None = None,
    ) -> None:
        """`keys` restricts the index to those (ecosystem, name) keys: a one-image CLI run
        loads the few hundred entries it needs, not the whole database; such an index is
        never persisted."""
        self.store = store
        self._only = None if keys is None else sorted(set(keys))
        self.cache_file = None if keys is not None else cache_file
        self._state = _State(-1, index_file.EMPTY)
        self._file = None if self.cache_file is None else index_file.Persisted(self.cache_file)
        self.loaded_from = ""
        """How the last refresh got its entries: `database` (a full build), `file` (the
        persisted index as it was), `file+delta` (the persisted index plus the changes since),
        `delta` (changes applied to the index in memory)."""
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        """The database version the index holds (-1 before the first refresh)."""
        return self._state.version

    def entry_count(self) -> int:
        """How many affected entries the index holds."""
        return self._state.packed.entry_count()

    def clear_verdicts(self) -> None:
        """Forget computed verdicts (the entries stay): every verdict is then computed anew."""
        self._state.verdicts.clear()
        for earlier in self._state.earlier.values():
            earlier.verdicts.clear()

    def refresh(self) -> int:
        """Bring the index up to the database's current version; returns it."""
        with self._lock:
            state = self._state
            with self.store.read() as uow:
                vulns = uow.vulns
                current = vulns.current_version()
                if current == state.version:
                    return current
                stamp = _stamp(vulns, current)
                if state.version < 0:
                    fresh, self.loaded_from = self._open(vulns, stamp)
                else:
                    fresh, self.loaded_from = self._patch(vulns, state, current), "delta"
            self._state = fresh
            if self._file is not None and self.loaded_from != "file":
                try:
                    self._file.save(stamp, fresh.packed)
                except OSError as exc:
                    self._file.forget()
                    logger.warning("could not persist the match index: %s", exc)
            logger.info(
                "match index at version %d from %s: %d keys",
                current,
                self.loaded_from,
                fresh.packed.key_count(),
            )
            return current

    def advisories(self, ecosystem: str, name: str) -> set[tuple[str, str]]:
        """(source, advisory id) of every entry under the key, whatever its status."""
        entries = self._prepared(self._state, ecosystem, name)
        return {(e.source, e.advisory_id) for e in entries}

    def _open(self, vulns: VulnRepo, stamp: index_file.Stamp) -> tuple[_State, str]:
        if self._file is not None:
            try:
                held, packed = self._file.open()
                if held.version > stamp.version:
                    raise index_file.IndexFileError("newer than the database (restored?)")
                if _stamp(vulns, held.version) != held:
                    raise index_file.IndexFileError("made from another database")
            except index_file.IndexFileError as exc:
                logger.info("match index file %s not used: %s", self.cache_file, exc)
            else:
                self._file.adopt(held)
                state = _State(held.version, packed)
                if held.version == stamp.version:
                    return state, "file"
                return self._patch(vulns, state, stamp.version), "file+delta"
        documents = index_file.documents_by_key(vulns.affected_documents(self._only))
        return _State(stamp.version, index_file.build(documents)), "database"

    def _patch(self, vulns: VulnRepo, state: _State, current: int) -> _State:
        changed: set[Key] = set()
        for _v, _source, _aid, _change, keys in vulns.changes_between(state.version, current):
            changed.update((k[0], k[1]) for k in keys)
        if self._only is not None:
            changed &= set(self._only)
        fresh = index_file.documents_by_key(vulns.affected_documents(changed))
        changes = index_file.changes_for(changed, fresh)
        if self._file is not None:
            self._file.note(changes)
        packed = index_file.pack(state.packed, changes)
        entries = {k: v for k, v in state.entries.items() if k not in changed}
        verdicts: dict[tuple[str, str, str], Verdicts] = {}
        before: dict[Key, dict[str, Verdicts]] = {}
        for k, v in state.verdicts.items():
            if (k[0], k[1]) in changed:
                before.setdefault((k[0], k[1]), {})[k[2]] = v
            else:
                verdicts[k] = v
        # kept until the key is prepared again, then for one more version
        earlier = {k: e for k, e in state.earlier.items() if k not in state.entries}
        for key in changed:
            prepared = state.entries.get(key)
            if prepared is not None:  # else: as it was before a change (or never prepared)
                earlier[key] = Earlier.of(prepared, before.get(key, {}))
        return _State(current, packed, entries, verdicts, earlier)

    def _prepared(self, state: _State, ecosystem: str, name: str) -> list[IndexedEntry]:
        key = (ecosystem, name)
        entries = state.entries.get(key)
        if entries is None:
            blob = state.packed.blob(ecosystem, name)
            earlier = state.earlier.get(key)
            entries = []
            taken: set[int] = set()
            for s, a, e in [] if blob is None else index_file.decode_blob(blob):
                same = None if earlier is None else earlier.reuse(s, a, e, taken)
                entries.append(same if same is not None else make_entry(s, a, ecosystem, e))
            state.entries[key] = entries
        return entries

    def verdicts(self, ecosystem: str, name: str, version: str) -> Verdicts:
        """(entry, verdict) for every entry of the key that is not NotAffected; cached."""
        state = self._state
        cache_key = (ecosystem, name, version)
        cached = state.verdicts.get(cache_key)
        if cached is not None:
            return cached
        out: list[tuple[IndexedEntry, object]] = []
        entries = self._prepared(state, ecosystem, name)
        if entries:
            try:
                scheme = scheme_for(ecosystem)
            except UnknownEcosystem:
                scheme = None
            earlier = state.earlier.get((ecosystem, name))
            before, reused = (
                (None, frozenset())
                if earlier is None
                else (earlier.verdicts.get(version), earlier.ids)
            )
            for entry in entries:
                if before is not None and id(entry) in reused:
                    known = before.get(id(entry))
                    if known is not None:
                        out.append((entry, known))
                    continue
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
                        fixes = fixed_versions_prepared(version, scheme, entry.prepared)
                    except InvalidVersion:  # listed verbatim, yet not a version of the scheme
                        fixes = ()
                    if fixes:  # a new Affected, as `dataclasses.replace` would make, faster
                        verdict = Affected(
                            via=verdict.via,
                            range_index=verdict.range_index,
                            introduced=verdict.introduced,
                            fixed=fixes[0],
                            last_affected=verdict.last_affected,
                        )
                if isinstance(verdict, Affected | Indeterminate):
                    out.append((entry, verdict))
        result = tuple(out)
        state.verdicts[cache_key] = result
        return result


def lookup_routes(pkg: Package, os_ecosystem: str | None) -> list[tuple[Key, str, str]]:
    """Every (key, searched_by, version) a package is looked up under, most precise first: one
    route (`lookup_key`), or binary then source for Red Hat's rpms (`match/redhat.py`)."""
    if pkg.type == "rpm" and redhat.is_redhat(os_ecosystem):
        assert os_ecosystem is not None
        return redhat.routes(pkg, os_ecosystem)
    route = lookup_key(pkg, os_ecosystem)
    return [] if route is None else [route]


def _stamp(vulns: VulnRepo, version: int) -> index_file.Stamp:
    created = vulns.version_created_at(version) if version > 0 else None
    return index_file.Stamp(version, "" if created is None else created.isoformat())


def lookup_key(pkg: Package, os_ecosystem: str | None) -> tuple[Key, str, str] | None:
    """(key, searched_by, version) to look a package up under, or None when it has no route.

    OS packages go by their source package in the distribution release (by their own name where
    the vendor advises by binary package, `Release.by_binary`); a file-based package
    owned by an OS package is not looked up at all: its owner is in the inventory and matches
    through the distribution's advisories (which know about the distribution's patches).
    """
    if pkg.type in OS_PACKAGE_TYPES:
        if os_ecosystem is None:
            return None
        release = by_ecosystem(os_ecosystem)
        if release is not None and release.by_binary:  # the vendor advises by binary package
            return (os_ecosystem, pkg.name), "binary package", pkg.version
        if pkg.source_name:
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
        pkg_routes = lookup_routes(pkg, os_ecosystem)
        if not pkg_routes:
            continue
        doc = dump_package(pkg)
        ref = package_ref(doc)
        docs[ref] = doc
        for route in pkg_routes:
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
        routes = lookup_routes(pkg, os_ecosystem)
        answered: set[tuple[str, str]] | None = set() if len(routes) > 1 else None
        for route in routes:
            _match_route(pkg, route, index, answered, matches, undecided)
    return matches, undecided


def _match_route(
    pkg: Package,
    route: tuple[Key, str, str],
    index: MatchIndex,
    answered: set[tuple[str, str]] | None,
    matches: list[Match],
    undecided: list[IndeterminateMatch],
) -> None:
    """The matches of one route; advisories an earlier route of the package `answered` are
    skipped, and this route's are added to it (None: the package has this route only, so
    nothing is collected)."""
    (ecosystem, name), searched_by, version = route
    seen: set[tuple[str, str]] | None = None
    if answered is not None:
        seen = answered.copy()
        answered |= index.advisories(ecosystem, name)
    for entry, verdict in index.verdicts(ecosystem, name, version):
        if seen and (entry.source, entry.advisory_id) in seen:
            continue
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
        matches.append(Match(pkg, entry.source, entry.advisory_id, fixed, entry.status, evidence))


def affected_keys(packages: Iterable[Package], os_ecosystem: str | None) -> set[Key]:
    """The (ecosystem, name) keys an inventory is looked up under (for the reverse index)."""
    out: set[Key] = set()
    for pkg in packages:
        out.update(route[0] for route in lookup_routes(pkg, os_ecosystem))
    return out
