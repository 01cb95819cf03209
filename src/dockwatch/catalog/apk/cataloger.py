"""`ApkCataloger`: Alpine's installed database, `/lib/apk/db/installed`.

The format is one stanza per package of `X:value` lines (apk's own documentation,
"Apk spec" on the Alpine wiki): P name, V version, A arch, o origin (source package), L licence,
F a directory, R a file inside the last F. Hand-parsed: it is that simple.
"""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.catalog.cataloger import CatalogError, CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package

INSTALLED = "/lib/apk/db/installed"


class ApkDbCorrupt(CatalogError):
    """The apk database has a line that is not `X:value`."""

    def __init__(self, path: str, line: int) -> None:
        super().__init__(f"{path}:{line}: not an apk database line")
        self.path = path
        self.line = line


class ApkCataloger:
    """Packages from apk's installed database, with origin and owned files."""

    name = "apk-db"
    version = 1
    globs = (INSTALLED,)

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Globs say it all."""
        return False

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Packages of the database if this layer has it."""
        entry = files.files.get(INSTALLED)
        if entry is None or entry.data is None:
            return CatalogResult()
        packages: list[Package] = []
        owned: list[tuple[str, tuple[str, ...]]] = []
        skipped: tuple[Skipped, ...] = ()
        try:
            for fields, paths in parse_installed(INSTALLED, entry.data):
                pkg = _package(fields, env.distro)
                if pkg is not None:
                    packages.append(pkg)
                    owned.append((pkg.name, tuple(paths)))
        except ApkDbCorrupt as exc:
            skipped = (Skipped(INSTALLED, str(exc)),)
        return CatalogResult(tuple(packages), skipped, tuple(owned))


def parse_installed(path: str, data: bytes) -> list[tuple[dict[str, str], list[str]]]:
    """(single-letter fields, owned absolute paths) per stanza."""
    out: list[tuple[dict[str, str], list[str]]] = []
    fields: dict[str, str] = {}
    paths: list[str] = []
    directory = ""
    for number, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), 1):
        if not line:
            if fields:
                out.append((fields, paths))
            fields, paths, directory = {}, [], ""
            continue
        if len(line) < 2 or line[1] != ":":
            raise ApkDbCorrupt(path, number)
        key, value = line[0], line[2:]
        if key == "F":
            directory = value
        elif key == "R":
            paths.append(f"/{directory}/{value}" if directory else f"/{value}")
        elif key not in fields:
            fields[key] = value
    if fields:
        out.append((fields, paths))
    return out


def _package(fields: dict[str, str], distro: Distro | None) -> Package | None:
    name, version = fields.get("P"), fields.get("V")
    if not name or not version:
        return None
    origin = fields.get("o") or name
    qualifiers = {"arch": fields["A"]} if fields.get("A") else {}
    if origin != name:
        qualifiers["upstream"] = origin
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    namespace = distro.id if distro is not None else "alpine"
    return Package(
        name=name,
        version=version,
        type="apk",
        purl=str(
            PackageURL(
                type="apk", namespace=namespace, name=name, version=version, qualifiers=qualifiers
            )
        ),
        locations=(INSTALLED,),
        found_by=ApkCataloger.name,
        source_name=origin,
        arch=fields.get("A"),
        licenses=(fields["L"],) if fields.get("L") else (),
    )
