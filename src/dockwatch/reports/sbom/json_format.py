"""dockwatch's own SBOM JSON, the shape `../shared/DESIGN.md` fixes for `dockwatch sbom`.

An object with `source` (the image: reference, manifest digest, layers), `distro`, `packages`
(each with `name`, `version`, `type`, `purl`, `layerDigest`, `locations` and, where they apply,
`sourceName`, `sourceVersion`, `epoch`, `release`, `arch`, `osPackage`, `licenses`, `foundBy`,
`metadata`), then `warnings` and `skipped`. Keys come in a fixed order and packages in
`common.ordered_packages()` order, so one image always gives the same bytes (no timestamp here on purpose:
the document describes the image, not the run).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.reports.common import TOOL_NAME, ordered_packages, tool_version

if TYPE_CHECKING:
    from dockwatch.catalog.service import Inventory

#: Bumped when a field changes meaning or goes away (adding fields does not bump it).
SCHEMA_VERSION = 1


def package_dict(p: Package) -> dict[str, Any]:
    """One package; optional fields appear only when they have a value."""
    out: dict[str, Any] = {
        "name": p.name,
        "version": p.version,
        "type": p.type,
        "purl": p.purl,
        "layerDigest": p.layer_digest,
        "locations": list(p.locations),
    }
    if p.source_name is not None:
        out["sourceName"] = p.source_name
    if p.source_version is not None:
        out["sourceVersion"] = p.source_version
    if p.epoch is not None:
        out["epoch"] = p.epoch
    if p.release is not None:
        out["release"] = p.release
    if p.arch is not None:
        out["arch"] = p.arch
    if p.os_package is not None:
        owner: dict[str, Any] = {
            "type": p.os_package.type,
            "name": p.os_package.name,
            "version": p.os_package.version,
        }
        if p.os_package.source_name is not None:
            owner["sourceName"] = p.os_package.source_name
        if p.os_package.source_version is not None:
            owner["sourceVersion"] = p.os_package.source_version
        out["osPackage"] = owner
    if p.licenses:
        out["licenses"] = list(p.licenses)
    if p.found_by:
        out["foundBy"] = p.found_by
    if p.metadata:
        out["metadata"] = dict(sorted(p.metadata))
    return out


def distro_dict(d: Distro | None) -> dict[str, Any] | None:
    """The OS as os-release names it, or None (scratch, distroless static, unknown)."""
    if d is None:
        return None
    return {
        "id": d.id,
        "versionId": d.version_id,
        "codename": d.codename,
        "prettyName": d.pretty_name,
        "idLike": list(d.id_like),
    }


def to_dict(inventory: Inventory) -> dict[str, Any]:
    """The whole document as plain JSON values."""
    image = inventory.image
    source: dict[str, Any] = {"reference": None, "manifestDigest": None, "layers": []}
    if image is not None:
        source = {
            "reference": image.reference,
            "manifestDigest": image.manifest_digest,
            "mediaType": image.media_type,
            "platform": str(image.platform) if image.platform is not None else None,
            "layers": [
                {
                    "digest": layer.digest,
                    "diffId": layer.diff_id,
                    "mediaType": layer.media_type,
                    "size": layer.size,
                }
                for layer in image.layers
            ],
        }
    elif inventory.layers:
        source["layers"] = [{"digest": r.digest, "diffId": r.diff_id} for r in inventory.layers]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "descriptor": {"name": TOOL_NAME, "version": tool_version()},
        "source": source,
        "distro": distro_dict(inventory.distro),
        "packages": [package_dict(p) for p in ordered_packages(inventory.packages)],
        "warnings": list(inventory.warnings),
        "skipped": [
            {"path": s.path, "reason": s.reason}
            for s in sorted(inventory.skipped, key=lambda s: (s.path, s.reason))
        ],
    }


def dumps(inventory: Inventory) -> str:
    """The document as indented JSON text, ending in a newline."""
    return json.dumps(to_dict(inventory), indent=2, ensure_ascii=False) + "\n"
