"""Bitnami's `/opt/bitnami/<component>/.spdx-<component>.spdx`: an SPDX 2.x JSON document.

Format: SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/package-information/): `packages` with
`name`, `versionInfo`, `licenseConcluded`/`licenseDeclared` and `externalRefs`, where Bitnami puts
a `PACKAGE-MANAGER`/`purl` reference `pkg:bitnami/redis@7.2.4-0?arch=amd64&distro=debian-12`. The
Bitnami OSV feed is keyed on those names. Every package with a name and a version is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from dockwatch.catalog.bitnami.package import new_package
from dockwatch.catalog.cataloger import FileFormatError, ParseEnv
from dockwatch.model.package import Package

_NO_LICENSE = frozenset({"", "NOASSERTION", "NONE"})


class SpdxError(FileFormatError):
    """A Bitnami SPDX file that is not a JSON document with a `packages` list."""


def _purl(entry: dict[str, object]) -> str | None:
    refs = entry.get("externalRefs")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("referenceType") == "purl":
            loc = ref.get("referenceLocator")
            if isinstance(loc, str):
                return loc
    return None


def parse_bitnami_spdx(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """The components described by one Bitnami SPDX document."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SpdxError(path, f"invalid JSON: {exc}") from exc
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, list):
        raise SpdxError(path, "no `packages` list")
    install_dir = path.rsplit("/", 1)[0]
    for entry in packages:
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("versionInfo")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        lic = entry.get("licenseConcluded")
        if not isinstance(lic, str) or lic in _NO_LICENSE:
            lic = entry.get("licenseDeclared")
        licenses = (lic,) if isinstance(lic, str) and lic not in _NO_LICENSE else ()
        meta = (("install_dir", install_dir),)
        yield new_package(name, version, path, _purl(entry), licenses, meta)
