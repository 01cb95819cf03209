"""`dockwatch db import`: recognise each file's format, parse it with its feed, apply it.

Vendor OVAL files (Oracle's ELSA, Microsoft's Azure Linux / CBL-Mariner) import as their feeds
read them.

A folder of OSV records (JSON or YAML, any producer) or an osv.dev `all.zip`, the Debian
security tracker JSON, Alpine secdb JSON, Photon CVE metadata, NVD CVE API pages, the CISA KEV
catalogue, EPSS CSV (optionally gzipped) and dockwatch's own export bundles are recognised by
their content, not their names. Licence, README and schema files are skipped. A malformed record
is skipped with its reason and counted; it never aborts the import.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockwatch.feeds import (
    alpine,
    azurelinux,
    debian,
    debian_elts,
    detect,
    epss,
    fedora,
    kev,
    nvd,
    oracle,
    osv,
    photon,
    redhat,
    updateinfo,
    wolfi,
)
from dockwatch.feeds.feed import FeedError, ParseProblem
from dockwatch.feeds.folder_walk import walk_files
from dockwatch.model.advisory import Advisory, EpssScore, KevEntry, NvdCvss
from dockwatch.storage.vuln_repo import EncodedAdvisory, KnownRecord

from . import archive_members, bundle, parallel
from .collector import collector_paused
from .service import ImportResult, VulnDb

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

PROGRESS_EVERY = 2000
"""Records read between two progress messages."""


@dataclass(slots=True)
class ImportReport:
    """What `db import` did, per source."""

    results: list[ImportResult] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    not_files: list[str] = field(default_factory=list)
    """Entries of the folders walked that are not regular files (pipes, sockets, devices,
    broken links): never opened, as opening a pipe waits for a writer."""


def classify(path: Path) -> str | None:
    """The format of one file: osv, debian, alpine, nvd, kev, epss, bundle, or None (skipped)."""
    if path.name.lower().endswith(bundle.SUFFIX):
        return "bundle"
    found = detect.sniff(path)
    return None if found is None else found.value


_SAMPLE = 3


def _osv_folder(dirpath: str, names: list[str]) -> bool:
    """True when a folder's first record-like files are OSV records: then its other JSON/YAML
    files go straight to the OSV parser (which skips non-records) instead of being sniffed one
    by one, which would read every file twice."""
    # hidden ones are not walked
    records = (n for n in names if n.lower().endswith(osv.RECORD_SUFFIXES))
    sample = list(itertools.islice(records, _SAMPLE))  # not the whole folder's list
    return bool(sample) and all(classify(Path(dirpath, n)) == "osv" for n in sample)


def _files(
    paths: Iterable[Path],
    report: ImportReport,
    record_files: list[str],
    root_ends: list[int] | None = None,
) -> Iterator[tuple[str, str]]:
    """(kind, path) of every file to import, but the files of folders of OSV records, which
    are added to `record_files` a folder at a time: the walk comes before any parsing, and the
    shared snapshot's 18,050 record files took 0.047 CPU-s one by one, 0.035 so. Paths stay
    strings (building a `Path` for each of them took as long as walking the folders).
    `root_ends` is told how many record files there are once each of `paths` is walked."""
    suffixes = osv.RECORD_SUFFIXES
    for root in paths:
        if root.is_dir():
            for dirpath, names, others in walk_files(root):
                report.not_files += [os.path.join(dirpath, n) for n in others]
                rest = names
                if _osv_folder(dirpath, names):
                    prefix = os.path.join(dirpath, "")  # the folder and a separator
                    record_files += [prefix + n for n in names if n.lower().endswith(suffixes)]
                    rest = [n for n in names if not n.lower().endswith(suffixes)]
                for n in rest:
                    p = os.path.join(dirpath, n)
                    kind = classify(Path(p))
                    if kind is None:
                        report.skipped_files.append(p)
                    else:
                        yield kind, p
        elif root.exists():
            kind = classify(root)
            if kind is None:
                report.skipped_files.append(str(root))
            else:
                yield kind, str(root)
        else:
            raise FileNotFoundError(str(root))
        if root_ends is not None:
            root_ends.append(len(record_files))


def import_paths(
    vdb: VulnDb,
    paths: Iterable[Path],
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> ImportReport:
    """Import every recognised file under `paths`, one transaction per source. Folders of
    OSV records are parsed by `workers` processes (default: one per core), with the same
    result as one; their records are written a path of `paths` at a time, so a source whose
    records lie under two of the paths is written twice (two versions), and OSV files and
    archives given alone are written before them. The other feeds are read and written while
    the records are parsed; export bundles come last."""
    with collector_paused():
        return _import_paths(vdb, paths, progress, workers)


def _import_paths(
    vdb: VulnDb, paths: Iterable[Path], progress: Progress | None, workers: int | None
) -> ImportReport:
    report = ImportReport()
    by_kind: dict[str, list[Path]] = {}
    record_files: list[str] = []  # in folders of OSV records
    root_ends: list[int] = []
    for kind, name in _files(paths, report, record_files, root_ends):
        by_kind.setdefault(kind, []).append(Path(name))
    say = progress or (lambda _m: None)

    records = 0  # read so far, every file and feed together

    def keep(items: Iterable[object]) -> Iterator[object]:
        nonlocal records
        for item in items:
            if isinstance(item, ParseProblem):
                logger.warning("skipped %s: %s", item.where, item.reason)
                report.problems.append(item)
                continue
            records += 1
            if records % PROGRESS_EVERY == 0:  # a folder gives its records one file at a time
                say(f"read {records} records")
            yield item

    grouped: dict[str, list[EncodedAdvisory | KnownRecord]] = {}
    seen: osv.Seen = {}
    limits = osv.Limits()
    archives = [p for p in by_kind.get("osv", []) if p.name.lower().endswith(".zip")]
    for p in by_kind.get("osv", []):  # record files given alone: this process
        if p in archives:
            continue
        for item in keep(osv.iter_file(p, "osv", limits, seen)):
            assert isinstance(item, Advisory)
            source = parallel.osv_source(item)
            encoded = parallel.encode_for(source, item)
            if encoded is not None:
                grouped.setdefault(source, []).append(encoded)
    _apply_grouped(vdb, grouped, report, say)
    # archives' members, then folders of records: every core. This process writes what the
    # workers parse, and is the critical path: the other feeds are read and written while
    # the workers start on the records, and each archive's and each path's records are
    # written while the next is parsed.
    units: list[parallel.Unit] = []
    ends: list[int] = []
    for p in archives:
        listed = archive_members.members(str(p), "osv")
        if isinstance(listed, ParseProblem):
            report.problems.append(listed)  # logged where it was found
        else:
            units += listed
        ends.append(len(units))
    ends += [len(units) + end for end in root_ends]
    units += record_files
    known: parallel.Known = {}
    if units:  # records stored from the same bytes before are not read again
        with vdb.store.read() as uow:
            known = uow.vulns.known_records()
    parsed_files = parallel.parse_units(units, limits, workers, known=known)
    try:
        # the workers are started, and forked before the bulk writes start their thread
        first = next(parsed_files, None)
        with vdb.store.bulk_writes():
            _import_other_kinds(vdb, by_kind, report, keep)
            boundaries = iter(sorted(set(ends) - {0}))  # a path without records ends nothing
            files, end = 0, next(boundaries, None)
            for parsed in itertools.chain([] if first is None else [first], parsed_files):
                for item in keep(parallel.first_copies(parsed, seen)):
                    assert isinstance(item, parallel.Parsed)
                    if item.advisory is not None:
                        grouped.setdefault(item.source, []).append(item.advisory)
                files += 1
                if files == end:
                    _apply_grouped(vdb, grouped, report, say)
                    end = next(boundaries, None)
            _apply_grouped(vdb, grouped, report, say)  # none left once the last path ended
    finally:
        parsed_files.close()  # the workers stopped, should writing have failed
    for p in by_kind.get("bundle", []):  # last: each is a complete snapshot of its sources
        report.results.extend(bundle.import_bundle(vdb, p))
    return report


def _import_other_kinds(
    vdb: VulnDb,
    by_kind: dict[str, list[Path]],
    report: ImportReport,
    keep: Callable[[Iterable[object]], Iterator[object]],
) -> None:
    """The feeds that are not OSV records nor bundles, each parsed here and written."""
    for p in by_kind.get("debian", []):
        if debian_elts.looks_like_elts(p):  # Freexian's ELTS tracker: the same shape
            elts = [a for a in keep(debian_elts.parse_file(p)) if isinstance(a, Advisory)]
            report.results.append(vdb.apply(debian_elts.SOURCE, elts))
            continue
        advisories = [a for a in keep(debian.parse_file(str(p))) if isinstance(a, Advisory)]
        report.results.append(vdb.apply(debian.SOURCE, advisories))
    for p in by_kind.get("wolfi", []):  # Wolfi and Chainguard security databases
        try:
            found = [a for a in keep(wolfi.parse_file(p)) if isinstance(a, Advisory)]
        except FeedError as exc:
            report.problems.append(ParseProblem("wolfi", str(p), str(exc)))
            continue
        if found:
            report.results.append(vdb.apply(found[0].source, found))
    updateinfo_found: dict[str, list[Advisory]] = {}  # Amazon Linux and Bottlerocket
    for p in by_kind.get("updateinfo", []):
        try:
            read = [a for a in keep(updateinfo.parse_file(p)) if isinstance(a, Advisory)]
        except FeedError as exc:  # cut short or unreadable: none of the file is applied
            report.problems.append(ParseProblem("updateinfo", str(p), str(exc)))
            continue
        for a in read:
            updateinfo_found.setdefault(a.source, []).append(a)
    for source, advisories in sorted(updateinfo_found.items()):
        report.results.append(vdb.apply(source, advisories))
    _import_oval(vdb, by_kind, report, keep)
    redhat_files = by_kind.get("redhat", [])  # Red Hat's VEX files and archives
    if redhat_files:
        try:
            vex = [a for p in redhat_files for a in keep(redhat.parse_path(p))]
            found = [a for a in vex if isinstance(a, Advisory)]
            report.results.append(vdb.apply(redhat.SOURCE, found))
        except FeedError as exc:
            report.problems.append(ParseProblem(redhat.SOURCE, str(redhat_files[0]), str(exc)))
    bodhi = [a for p in by_kind.get("bodhi", []) for a in keep(fedora.parse_file(p))]
    if bodhi:  # Fedora's Bodhi updates pages
        report.results.append(
            vdb.apply(fedora.SOURCE, [a for a in bodhi if isinstance(a, Advisory)])
        )
    photon_files = by_kind.get("photon", [])  # Photon CVE metadata, one file per release
    if photon_files:
        try:
            found = [
                a
                for a in keep(photon.parse_files([(p, "") for p in photon_files]))
                if isinstance(a, Advisory)
            ]
            report.results.append(vdb.apply(photon.SOURCE, found))
        except FeedError as exc:
            report.problems.append(ParseProblem(photon.SOURCE, str(photon_files[0]), str(exc)))
    alpine_files = by_kind.get("alpine", [])
    if alpine_files:
        try:
            advisories = [
                a
                for a in keep(alpine.parse_files([(p, "") for p in alpine_files]))
                if isinstance(a, Advisory)
            ]
            report.results.append(vdb.apply(alpine.SOURCE, advisories))
        except FeedError as exc:
            report.problems.append(ParseProblem(alpine.SOURCE, str(alpine_files[0]), str(exc)))
    enrichment: list[tuple[str, Callable[[Path], Iterable[object]]]] = [
        ("kev", lambda p: kev.parse_file(p)),
        ("nvd", lambda p: nvd.parse_file(p)),
        ("epss", lambda p: epss.parse_file(p)),
    ]
    for kind, parse in enrichment:
        records: list[KevEntry | EpssScore | NvdCvss] = []
        for p in by_kind.get(kind, []):
            try:
                records += [
                    r for r in keep(parse(p)) if isinstance(r, KevEntry | EpssScore | NvdCvss)
                ]
            except FeedError as exc:
                report.problems.append(ParseProblem(kind, str(p), str(exc)))
        if records:
            report.results.append(vdb.apply_enrichment(kind, records))


def _apply_grouped(
    vdb: VulnDb,
    grouped: dict[str, list[EncodedAdvisory | KnownRecord]],
    report: ImportReport,
    say: Progress,
) -> None:
    """Write the OSV records read so far, a transaction per source, and forget them."""
    for source, rows in sorted(grouped.items()):
        say(f"{source}: applying {len(rows)} advisories")
        report.results.append(vdb.apply_rows(source, rows))
    grouped.clear()


def _import_oval(
    vdb: VulnDb,
    by_kind: dict[str, list[Path]],
    report: ImportReport,
    keep: Callable[[Iterable[object]], Iterator[object]],
) -> None:
    """Oracle's ELSA OVAL files (the all-releases file or per-year files: one source) and
    Microsoft's OVAL files (one source per release)."""
    parsers: list[tuple[str, Callable[[Path], Iterable[object]]]] = [
        ("oracle", lambda p: oracle.parse_file(p)),
        ("azurelinux", lambda p: azurelinux.parse_file(p)),
    ]
    for kind, parse in parsers:
        grouped: dict[str, list[Advisory]] = {}
        for p in by_kind.get(kind, []):
            try:
                for a in keep(parse(p)):
                    if isinstance(a, Advisory):
                        grouped.setdefault(a.source, []).append(a)
            except FeedError as exc:
                report.problems.append(ParseProblem(kind, str(p), str(exc)))
        for source, advisories in sorted(grouped.items()):
            report.results.append(vdb.apply(source, advisories))
