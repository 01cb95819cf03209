"""`RpmManifestCataloger`: installed rpms of distroless CBL-Mariner / Azure Linux images.

Those images carry no rpm database; the image build writes `rpm -qa` with a fixed query format
to `/var/lib/rpmmanifest/container-manifest-2`, one package per line, tab-separated: name,
version-release, install time, build time, vendor, epoch (`(none)` when unset), size, arch,
epoch number, source rpm. (`container-manifest-1` lists only names and is not read.)

The cataloger's name ends in `-manifest`, so where an image has both the manifest and an rpm
database, an identical entry is folded into the database's record (catalog/coalesce.py).
"""

from __future__ import annotations

import dataclasses

from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.rpm.cataloger import _package
from dockwatch.catalog.rpm.header import RpmHeader
from dockwatch.model.package import Package

MANIFEST = "/var/lib/rpmmanifest/container-manifest-2"
_FIELDS = 10
MAX_LINE = 4096


def parse_line(line: str) -> RpmHeader:
    """One manifest line; raises ValueError when it is not one."""
    if len(line) > MAX_LINE:
        raise ValueError("line too long")
    parts = line.split("\t")
    if len(parts) < _FIELDS:
        raise ValueError(f"{len(parts)} fields, expected {_FIELDS}")
    name, evr, _installed, _built, _vendor, epoch, _size, arch, _epochnum, sourcerpm = parts[:10]
    version, sep, release = evr.rpartition("-")
    if not (name and sep and version and release):
        raise ValueError(f"no version-release in {evr!r}")
    if epoch in ("", "(none)"):
        epoch_value = None
    elif epoch.isascii() and epoch.isdigit():
        epoch_value = int(epoch)
    else:
        raise ValueError(f"epoch {epoch!r} is not a number")
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epoch_value,
        arch=arch or None,
        sourcerpm=sourcerpm.strip() or None,
        license=None,
        modularity_label=None,
        files=(),
    )


class RpmManifestCataloger:
    """Reads the rpm manifest of distroless Mariner / Azure Linux images."""

    name = "rpm-manifest"
    version = 1
    globs = (MANIFEST,)

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Globs say it all."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """One package per well-formed line; a bad line is skipped with its number."""
        entry = files.files.get(MANIFEST)
        if entry is None or entry.data is None:
            return CatalogResult((), ())
        packages: list[Package] = []
        skipped: list[Skipped] = []
        text = entry.data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                header = parse_line(line)
            except ValueError as exc:
                skipped.append(Skipped(f"{MANIFEST}:{number}", str(exc)))
                continue
            if header.name.startswith("gpg-pubkey"):
                continue
            pkg = _package(header, MANIFEST, env.distro)
            packages.append(dataclasses.replace(pkg, found_by=self.name))
        return CatalogResult(tuple(packages), tuple(skipped))
