"""`RpmCataloger`: installed rpms from any rpmdb format, with their file lists."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.rpm.header import HeaderCorrupt, RpmHeader, parse_header
from dockwatch.catalog.rpm.rpmdb import RpmDbCorrupt, header_blobs
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package

#: Where rpm keeps its database, by format and era.
DB_PATHS = (
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/usr/lib/sysimage/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages.db",
)


class RpmCataloger:
    """Reads rpm headers directly from the database bytes (sqlite, BDB hash or NDB)."""

    name = "rpm-db"
    version = 1
    globs = DB_PATHS

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Globs say it all."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Packages of every rpmdb this layer holds; a corrupt header is skipped, the rest kept."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        owned: list[tuple[str, tuple[str, ...]]] = []
        for path in DB_PATHS:
            entry = files.files.get(path)
            if entry is None or entry.data is None:
                continue
            try:
                for number, blob in enumerate(header_blobs(entry.data)):
                    try:
                        header = parse_header(blob)
                    except HeaderCorrupt as exc:
                        skipped.append(Skipped(f"{path}#{number}", str(exc)))
                        continue
                    if header.name.startswith("gpg-pubkey"):
                        continue  # imported signing keys, not software
                    packages.append(_package(header, path, env.distro))
                    owned.append((header.name, header.files))
            except RpmDbCorrupt as exc:
                skipped.append(Skipped(path, str(exc)))
        return CatalogResult(tuple(packages), tuple(skipped), tuple(owned))


def split_sourcerpm(sourcerpm: str | None) -> tuple[str | None, str | None]:
    """`openssl-3.0.7-25.el9.src.rpm` -> (`openssl`, `3.0.7-25.el9`)."""
    if not sourcerpm:
        return None, None
    stem = sourcerpm.removesuffix(".rpm")
    stem = stem.rsplit(".", 1)[0] if stem.endswith((".src", ".nosrc")) else stem
    parts = stem.rsplit("-", 2)
    return (parts[0], f"{parts[1]}-{parts[2]}") if len(parts) == 3 else (stem, None)


def _package(h: RpmHeader, path: str, distro: Distro | None) -> Package:
    full = f"{h.version}-{h.release}"
    version = f"{h.epoch}:{full}" if h.epoch is not None else full
    qualifiers: dict[str, str] = {}
    if h.arch:
        qualifiers["arch"] = h.arch
    if h.epoch is not None:
        qualifiers["epoch"] = str(h.epoch)
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    if h.sourcerpm:
        qualifiers["upstream"] = h.sourcerpm
    namespace = distro.id if distro is not None else None
    metadata = (("modularitylabel", h.modularity_label),) if h.modularity_label else ()
    src_name, src_version = split_sourcerpm(h.sourcerpm)
    return Package(
        name=h.name,
        version=version,
        type="rpm",
        purl=str(
            PackageURL(
                type="rpm", namespace=namespace, name=h.name, version=full, qualifiers=qualifiers
            )
        ),
        locations=(path,),
        found_by=RpmCataloger.name,
        source_name=src_name,
        source_version=src_version if src_version != full else None,
        epoch=h.epoch,
        release=h.release,
        arch=h.arch,
        licenses=(h.license,) if h.license else (),
        metadata=metadata,
    )
