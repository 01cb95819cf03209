"""CycloneDX 1.6 JSON through cyclonedx-python-lib.

The image is `metadata.component` (type `container`, the manifest digest as its version and
SHA-256 hash, a `pkg:oci` purl, one property per layer); each package is a `library` component
(`operating-system` for the distribution) with its purl, licences, and `dockwatch:*` properties for
what CycloneDX has no field for: the layer digest, the locations, the source package and the OS
package owning a file-based one. The image depends on every package, so the dependency graph is
complete. The serial number is derived from the content, so the same inventory and time give the
same bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from dockwatch.model.package import Package
from dockwatch.reports.common import (
    TOOL_NAME,
    created_at,
    image_name,
    image_purl,
    ordered_packages,
    package_id,
    tool_version,
)

if TYPE_CHECKING:
    from dockwatch.catalog.service import Inventory

#: Prefix of every property dockwatch adds (CycloneDX property taxonomy: one namespace per tool).
NS = "dockwatch"
IMAGE_REF = "image"


def _properties(p: Package) -> list[Property]:
    props = [Property(name=f"{NS}:package:type", value=p.type)]
    if p.layer_digest:
        props.append(Property(name=f"{NS}:layerDigest", value=p.layer_digest))
    props.extend(Property(name=f"{NS}:location", value=loc) for loc in p.locations)
    if p.found_by:
        props.append(Property(name=f"{NS}:foundBy", value=p.found_by))
    if p.source_name is not None:
        props.append(Property(name=f"{NS}:sourceName", value=p.source_name))
    if p.source_version is not None:
        props.append(Property(name=f"{NS}:sourceVersion", value=p.source_version))
    if p.arch is not None:
        props.append(Property(name=f"{NS}:arch", value=p.arch))
    if p.os_package is not None:
        o = p.os_package
        props.append(Property(name=f"{NS}:osPackage:type", value=o.type))
        props.append(Property(name=f"{NS}:osPackage:name", value=o.name))
        props.append(Property(name=f"{NS}:osPackage:version", value=o.version))
        if o.source_name is not None:
            props.append(Property(name=f"{NS}:osPackage:sourceName", value=o.source_name))
        if o.source_version is not None:
            props.append(Property(name=f"{NS}:osPackage:sourceVersion", value=o.source_version))
    props.extend(Property(name=f"{NS}:metadata:{k}", value=v) for k, v in p.metadata)
    return props


def _component(p: Package, licenses: LicenseFactory) -> Component:
    try:
        purl: PackageURL | None = PackageURL.from_string(p.purl)
    except ValueError:
        purl = None  # a cataloger bug must not lose the package; the property keeps its type
    group = None
    name = p.name
    if p.type == "java" and ":" in p.name:
        group, name = p.name.split(":", 1)
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=f"pkg-{package_id(p)}",
        name=name,
        group=group,
        version=p.version,
        purl=purl,
        licenses=[licenses.make_from_string(text) for text in p.licenses],
        properties=_properties(p),
    )


def to_bom(inventory: Inventory, created: datetime | None = None) -> Bom:
    """The BOM object (tests validate it; `dumps` writes it)."""
    licenses = LicenseFactory()
    packages = ordered_packages(inventory.packages)
    components = [_component(p, licenses) for p in packages]
    image = inventory.image
    reference = image.reference if image is not None else "image"
    digest = image.manifest_digest if image is not None else ""
    root_props = []
    if image is not None:
        root_props.append(Property(name=f"{NS}:image:reference", value=image.reference))
        if image.platform is not None:
            root_props.append(Property(name=f"{NS}:image:platform", value=str(image.platform)))
        for i, layer in enumerate(image.layers):
            root_props.append(Property(name=f"{NS}:image:layer:{i}:digest", value=layer.digest))
            if layer.diff_id:
                root_props.append(
                    Property(name=f"{NS}:image:layer:{i}:diffId", value=layer.diff_id)
                )
    root = Component(
        type=ComponentType.CONTAINER,
        bom_ref=IMAGE_REF,
        name=image_name(reference),
        version=digest or None,
        purl=PackageURL.from_string(image_purl(reference, digest)) if digest else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest.split(":", 1)[1])]
        if digest.startswith("sha256:")
        else [],
        properties=root_props,
    )
    if inventory.distro is not None:
        d = inventory.distro
        components.append(
            Component(
                type=ComponentType.OPERATING_SYSTEM,
                bom_ref=f"os-{d.id}",
                name=d.id,
                version=d.version_id,
                description=d.pretty_name,
                properties=[Property(name=f"{NS}:distro:codename", value=d.codename)]
                if d.codename
                else [],
            )
        )
    tool = Component(type=ComponentType.APPLICATION, name=TOOL_NAME, version=tool_version())
    when = created_at(created)
    digest_of_content = hashlib.sha256(
        "\0".join([digest, when.isoformat(), *(c.bom_ref.value or "" for c in components)]).encode()
    ).digest()
    bom = Bom(
        serial_number=uuid.UUID(bytes=digest_of_content[:16], version=5),
        metadata=BomMetaData(component=root, timestamp=when),
        components=components,
    )
    bom.metadata.tools.components.add(tool)
    bom.register_dependency(root, components)
    return bom


def dumps(inventory: Inventory, created: datetime | None = None) -> str:
    """CycloneDX 1.6 JSON text, ending in a newline."""
    return JsonV1Dot6(to_bom(inventory, created)).output_as_string(indent=2) + "\n"
