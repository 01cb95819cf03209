"""Read a Java archive from bytes: its Maven coordinates and those of the archives nested in it.

Coordinates come only from evidence: every `META-INF/maven/<group>/<artifact>/pom.properties`
first (a shaded jar carries several, and each is code that is really there), then a Debian
Maven-repository link naming the jar (`parse_maven_repo`), then the main section of
`META-INF/MANIFEST.MF`. A jar with neither
is reported as skipped rather than given a name guessed from its file name (syft does that, and
invents a groupId from the name too). Each package says which evidence it came from in its
`metadata` (`("evidence", "pom.properties")`).

Archives are hostile input: the whole tree of nested archives shares one budget of uncompressed
bytes, nesting is bounded, members are read with a cap (a zip header may lie about sizes), and an
archive listing more entries than a real jar would is refused before `zipfile` builds its index
(whatever count its end record declares: `model.zip_end`).
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from dockwatch.catalog.java.package import new_package
from dockwatch.catalog.java.parse_manifest import parse_manifest, parse_properties
from dockwatch.catalog.java.parse_maven_repo import RepoCoordinates
from dockwatch.model.package import Package
from dockwatch.model.zip_end import too_many_entries
from dockwatch.value_class import frozen

ARCHIVE_EXTS = (".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi")
MANIFEST = "META-INF/MANIFEST.MF"
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    KeyError,
    struct.error,
)


@frozen
class Limits:
    """Bounds for reading one top-level archive and everything nested in it."""

    max_depth: int = 3
    """Nesting levels below the top-level archive (Spring Boot needs 1, an ear of wars 2)."""
    max_total_bytes: int = 256 << 20
    """Uncompressed bytes read from members, over the whole tree."""
    max_nested_bytes: int = 64 << 20
    """Uncompressed size of one nested archive: at most `max_depth` of them are held at once,
    which keeps a hostile jar within the 512 MB address space the hostile-layer tests allow."""
    max_member_bytes: int = 1 << 20
    """Uncompressed size of one pom.properties or MANIFEST.MF."""
    max_entries: int = 200_000
    """Central-directory entries of one archive."""


@dataclass(slots=True)
class ArchiveScan:
    """What reading one top-level archive produced."""

    packages: list[Package] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(virtual path, reason) for archives or members that could not be read."""
    remaining: int = 0
    """Uncompressed bytes still allowed."""
    repo: RepoCoordinates | None = None
    """Coordinates a Maven-repository link states for the top-level archive, if any."""


def scan_archive(
    path: str, data: bytes, limits: Limits | None = None, repo: RepoCoordinates | None = None
) -> ArchiveScan:
    """Packages of the archive at image path `path` (bytes `data`) and of its nested archives;
    `repo` is what a Maven-repository link says about this archive, if one points at it."""
    lim = limits or Limits()
    scan = ArchiveScan(remaining=lim.max_total_bytes, repo=repo)
    _scan(path, path, data, 0, lim, scan)
    return scan


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, scan: ArchiveScan
) -> bytes | None:
    """The member's bytes, or None when it is over `cap` or over the remaining budget."""
    limit = min(cap, scan.remaining)
    if info.file_size > limit:
        return None
    with zf.open(info) as fh:
        out = fh.read(limit + 1)
    if len(out) > limit:
        return None  # the header lied about the size
    scan.remaining -= len(out)
    return out


def _scan(
    location: str, virtual: str, data: bytes, depth: int, lim: Limits, scan: ArchiveScan
) -> None:
    try:
        too_many = too_many_entries(data, lim.max_entries)
        if too_many is not None:
            scan.problems.append((virtual, too_many))
            return
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > lim.max_entries:
                scan.problems.append((virtual, f"{len(infos)} zip entries, over the limit"))
                return
            _evidence(zf, infos, location, virtual, depth, lim, scan)
            for info in infos:
                if not info.filename.endswith(ARCHIVE_EXTS) or info.is_dir():
                    continue
                inner = f"{virtual}!/{info.filename}"
                if depth + 1 > lim.max_depth:
                    scan.problems.append((inner, f"nested deeper than {lim.max_depth} archives"))
                    continue
                try:
                    blob = _read_member(zf, info, lim.max_nested_bytes, scan)
                except _ZIP_ERRORS as exc:
                    scan.problems.append((inner, f"unreadable member: {type(exc).__name__}: {exc}"))
                    continue
                if blob is None:
                    scan.problems.append((inner, "nested archive over the size budget"))
                    continue
                _scan(location, inner, blob, depth + 1, lim, scan)
    except _ZIP_ERRORS as exc:
        scan.problems.append((virtual, f"unreadable archive: {type(exc).__name__}: {exc}"))


def _evidence(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    location: str,
    virtual: str,
    depth: int,
    lim: Limits,
    scan: ArchiveScan,
) -> None:
    base: list[tuple[str, str]] = [] if depth == 0 else [("virtual_path", virtual)]
    found = False
    for info in infos:
        name = info.filename
        if not name.endswith("/pom.properties") or not name.startswith("META-INF/maven/"):
            continue
        if name.count("/") != 4:
            continue
        try:
            blob = _read_member(zf, info, lim.max_member_bytes, scan)
        except _ZIP_ERRORS as exc:
            scan.problems.append((f"{virtual}!/{name}", f"unreadable: {type(exc).__name__}: {exc}"))
            continue
        if blob is None:
            scan.problems.append((f"{virtual}!/{name}", "pom.properties over the size limit"))
            continue
        props = parse_properties(blob)
        artifact, version = props.get("artifactId"), props.get("version")
        if not artifact or not version:
            continue
        group = props.get("groupId") or None
        meta = [*base, ("evidence", "pom.properties"), ("pom_properties", name)]
        scan.packages.append(new_package(group, artifact, version, location, tuple(meta)))
        found = True
    if found:
        return
    if depth == 0 and scan.repo is not None:
        r = scan.repo
        meta = [("evidence", "maven-repo"), ("maven_repo_link", r.link)]
        scan.packages.append(new_package(r.group, r.artifact, r.version, location, tuple(meta)))
        return
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        scan.problems.append((virtual, "no pom.properties and no MANIFEST.MF: coordinates unknown"))
        return
    blob = _read_member(zf, info, lim.max_member_bytes, scan)
    if blob is None:
        scan.problems.append((f"{virtual}!/{MANIFEST}", "MANIFEST.MF over the size limit"))
        return
    pkg = _from_manifest(parse_manifest(blob), location, base)
    if pkg is None:
        scan.problems.append(
            (virtual, "no pom.properties and no name/version in MANIFEST.MF: coordinates unknown")
        )
    else:
        scan.packages.append(pkg)


#: Manifest attributes naming the component, best first, and those giving its version.
_NAME_FIELDS = ("Bundle-SymbolicName", "Implementation-Title", "Specification-Title")
_VERSION_FIELDS = ("Implementation-Version", "Bundle-Version", "Specification-Version")


def _from_manifest(
    attrs: dict[str, str], location: str, base: list[tuple[str, str]]
) -> Package | None:
    """Coordinates written in the manifest: Jenkins plugins' `Group-Id`/`Short-Name`, else the
    OSGi or Implementation/Specification fields. The group is only a Jenkins `Group-Id`:
    `Implementation-Vendor-Id` is not evidence of a groupId (Apache's commons-parent sets it to
    `org.apache` for commons-logging, whose groupId is `commons-logging`), so it is kept in
    metadata only."""
    if attrs.get("Short-Name") and attrs.get("Plugin-Version"):
        meta = [*base, ("evidence", "MANIFEST.MF"), ("name_field", "Short-Name")]
        return new_package(
            attrs.get("Group-Id") or None,
            attrs["Short-Name"],
            attrs["Plugin-Version"],
            location,
            tuple(meta),
        )
    name_field = next((f for f in _NAME_FIELDS if attrs.get(f)), None)
    version = next((attrs[f] for f in _VERSION_FIELDS if attrs.get(f)), None)
    if name_field is None or not version:
        return None
    name = attrs[name_field].split(";", 1)[0].strip()
    if not name:
        return None
    meta = [*base, ("evidence", "MANIFEST.MF"), ("name_field", name_field)]
    if attrs.get("Implementation-Vendor-Id"):
        meta.append(("implementation_vendor_id", attrs["Implementation-Vendor-Id"]))
    lic = attrs.get("Bundle-License", "")
    licenses = (lic,) if lic and "://" not in lic and len(lic) <= 80 else ()
    return new_package(None, name, version, location, tuple(meta), licenses)
