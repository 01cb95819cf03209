"""Bottlerocket has no rpm database: the packages it was built from are listed in
`/usr/share/bottlerocket/application-inventory.json`, `{"Content": [{"Name", "Publisher",
"Version", "Release", "Epoch", "Architecture", "Url", "Summary", ...}]}` (the file Bottlerocket's
own inventory tools read). Each entry is an rpm; Bottlerocket's advisories (BRSA) name these
packages by binary name, so they are reported as `rpm` packages of the `bottlerocket` namespace.
"""

from __future__ import annotations

import orjson
from packageurl import PackageURL

from dockwatch.catalog.cataloger import FileFormatError, GlobCataloger, ParseEnv
from dockwatch.model.package import Package

INVENTORY = "/usr/share/bottlerocket/application-inventory.json"
_MAX_FIELD = 256


def _field(entry: dict[str, object], key: str, path: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise FileFormatError(path, f"an entry has no {key}")
        return ""
    if not isinstance(value, str) or len(value) > _MAX_FIELD or any(c.isspace() for c in value):
        raise FileFormatError(path, f"bad {key} {str(value)[:40]!r}")
    return value


def parse_inventory(path: str, data: bytes, env: ParseEnv) -> list[Package]:
    """One rpm package per inventory entry."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FileFormatError(path, f"not JSON: {exc}") from exc
    content = doc.get("Content") if isinstance(doc, dict) else None
    if not isinstance(content, list):
        raise FileFormatError(path, "no `Content` list")
    distro = env.distro
    out: list[Package] = []
    for entry in content:
        if not isinstance(entry, dict):
            raise FileFormatError(path, "an entry is not an object")
        name = _field(entry, "Name", path)
        version = _field(entry, "Version", path)
        release = _field(entry, "Release", path)
        arch = _field(entry, "Architecture", path, required=False) or None
        epoch_text = _field(entry, "Epoch", path, required=False)
        if epoch_text and not epoch_text.isdigit():
            raise FileFormatError(path, f"bad Epoch {epoch_text[:40]!r}")
        epoch = int(epoch_text) if epoch_text and epoch_text != "0" else None
        full = f"{version}-{release}"
        qualifiers = {"arch": arch} if arch else {}
        if epoch is not None:
            qualifiers["epoch"] = str(epoch)
        if distro is not None and distro.version_id:
            qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
        out.append(
            Package(
                name=name,
                version=f"{epoch}:{full}" if epoch is not None else full,
                type="rpm",
                purl=str(
                    PackageURL(
                        type="rpm",
                        namespace="bottlerocket",
                        name=name,
                        version=full,
                        qualifiers=qualifiers,
                    )
                ),
                locations=(path,),
                found_by="bottlerocket-inventory",
                epoch=epoch,
                release=release,
                arch=arch,
            )
        )
    return out


CATALOGER = GlobCataloger("bottlerocket-inventory", 1).parse(INVENTORY, parse_inventory)
