"""Core metadata (PEP 241/314/345/566/643): `METADATA` in dist-info, `PKG-INFO` in eggs.

The header block is cut at the first blank line before parsing: the body is the long description,
often tens of kB, and we need none of it. Parsing uses `packaging.metadata.parse_email`.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

from dockwatch.catalog.cataloger import CatalogError, ParseEnv
from dockwatch.catalog.python.package import new_package
from dockwatch.model.package import Package
from dockwatch.model.zip_end import too_many_entries

#: The PKG-INFO of a zipped egg is tiny; anything bigger is not a real one.
MAX_PKG_INFO = 1 << 20
#: Entries of a zipped egg (real ones hold at most a few thousand files): a hostile one's
#: central directory is refused before `zipfile` indexes it.
MAX_EGG_ENTRIES = 100_000
#: Licence text pasted into `License:` is not a licence name; keep only short values.
MAX_LICENSE_LEN = 80


class MetadataError(CatalogError):
    """A core-metadata file without a name or version."""

    def __init__(self, path: str, missing: str) -> None:
        super().__init__(f"{path}: no {missing} in core metadata")
        self.path = path
        self.missing = missing


def _headers(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n")
    end = data.find(b"\n\n")
    return data if end < 0 else data[: end + 1]


def _licenses(raw: dict[str, object]) -> tuple[str, ...]:
    expr = raw.get("license_expression")
    if isinstance(expr, str) and expr.strip():
        return (expr.strip(),)
    lic = raw.get("license")
    if isinstance(lic, str) and lic.strip() and "\n" not in lic.strip():
        value = lic.strip()
        if len(value) <= MAX_LICENSE_LEN and value.upper() != "UNKNOWN":
            return (value,)
    classifiers = raw.get("classifiers")
    if not isinstance(classifiers, list):
        return ()
    return tuple(
        c.rsplit("::", 1)[-1].strip()
        for c in classifiers
        if isinstance(c, str) and c.startswith("License ::")
    )


def package_from_metadata(path: str, data: bytes, kind: str) -> Package:
    """One package from the bytes of a METADATA/PKG-INFO file found at `path`."""
    from packaging.metadata import parse_email  # ~15 ms to import: only when Python is found

    raw, _unparsed = parse_email(_headers(data))
    name = raw.get("name")
    version = raw.get("version")
    if not name:
        raise MetadataError(path, "Name")
    if not version:
        raise MetadataError(path, "Version")
    return new_package(
        name,
        version.strip(),
        path,
        _licenses(dict(raw)),
        (("evidence", kind),),
    )


def parse_dist_info(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """`NAME-VER.dist-info/METADATA` (wheels, pip installs)."""
    yield package_from_metadata(path, data, "dist-info")


def parse_egg_info(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """`*.egg-info/PKG-INFO`, a bare `*.egg-info` file (distutils), or `*.egg/EGG-INFO/PKG-INFO`."""
    yield package_from_metadata(path, data, "egg-info")


def parse_egg_zip(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """A zipped `.egg`: its `EGG-INFO/PKG-INFO` member, read within a size cap."""
    if not data.startswith(b"PK"):
        return  # an .egg directory is matched by the PKG-INFO glob instead
    too_many = too_many_entries(data, MAX_EGG_ENTRIES)
    if too_many is not None:
        raise MetadataError(path, f"zip within the entry limit ({too_many})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("EGG-INFO/PKG-INFO")
            if info.file_size > MAX_PKG_INFO:
                raise MetadataError(path, "PKG-INFO within size limit")
            with zf.open(info) as fh:
                member = fh.read(MAX_PKG_INFO + 1)
    # RuntimeError: an encrypted member; NotImplementedError (one): an unknown method
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        zlib.error,
        RuntimeError,
        ValueError,
    ) as exc:
        raise MetadataError(path, f"readable zip ({exc})") from exc
    except KeyError as exc:
        raise MetadataError(path, "EGG-INFO/PKG-INFO") from exc
    if len(member) > MAX_PKG_INFO:
        raise MetadataError(path, "PKG-INFO within size limit")
    yield package_from_metadata(path, member, "egg")
