"""SPDX 2.3 JSON through spdx-tools.

The document DESCRIBES one package for the image (purpose CONTAINER, the manifest digest as its
version and SHA-256 checksum, a `pkg:oci` purl); the image CONTAINS every package (and the
distribution, purpose OPERATING-SYSTEM). Each package carries its purl as a PACKAGE-MANAGER
external reference. SPDX 2.3 has no free-form properties, so the layer digest, locations and
cataloger go into `sourceInfo`, and the source package and the OS package owning a file-based one
into `comment`. Licences are declared only when every one is a valid SPDX expression of known
identifiers; otherwise NOASSERTION, with the text kept in `licenseComments`.

The namespace and SPDX ids derive from the content, so the same inventory and time give the same
bytes.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    PackagePurpose,
)
from spdx_tools.spdx.model.package import Package as SpdxPackage
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

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

DOCUMENT_ID = "SPDXRef-DOCUMENT"
IMAGE_ID = "SPDXRef-Image"
#: Where namespaces point: a URI that is unique per document and resolves nowhere (RFC 2606).
NAMESPACE_BASE = "https://dockwatch.invalid/spdx"


def _declared(licenses: tuple[str, ...]) -> tuple[Any, str | None]:
    """(license_declared, license_comment): an expression only if every text is valid SPDX."""
    if not licenses:
        return SpdxNoAssertion(), None
    # spdx-tools' own singleton: building the licence table costs ~0.1 s, so only once.
    from spdx_tools.common.spdx_licensing import spdx_licensing  # type: ignore[import-untyped]

    parts = []
    for text in licenses:
        info = spdx_licensing.validate(text)
        if info.errors or info.invalid_symbols:
            return SpdxNoAssertion(), "declared: " + "; ".join(licenses)
        parts.append(f"({info.normalized_expression})" if len(licenses) > 1 else text)
    return spdx_licensing.parse(" AND ".join(parts)), None


def _source_info(p: Package) -> str:
    where = ", ".join(p.locations) or "unknown location"
    by = f" by {p.found_by}" if p.found_by else ""
    layer = f" in layer {p.layer_digest}" if p.layer_digest else ""
    return f"{p.type} package found{by} at {where}{layer}"


def _comment(p: Package) -> str | None:
    notes = []
    if p.source_name is not None:
        version = f" {p.source_version}" if p.source_version else ""
        notes.append(f"source package: {p.source_name}{version}")
    if p.os_package is not None:
        o = p.os_package
        notes.append(f"installed by {o.type} package {o.name} {o.version}")
    return "; ".join(notes) or None


def _package(p: Package) -> SpdxPackage:
    declared, license_comment = _declared(p.licenses)
    return SpdxPackage(
        spdx_id=f"SPDXRef-Package-{p.type}-{package_id(p)}",
        name=p.name,
        version=p.version,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=declared,
        license_comment=license_comment,
        copyright_text=SpdxNoAssertion(),
        source_info=_source_info(p),
        comment=_comment(p),
        external_references=[
            ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", p.purl)
        ],
        primary_package_purpose=PackagePurpose.LIBRARY,
    )


def to_document(inventory: Inventory, created: datetime | None = None) -> Document:
    """The SPDX document object (tests validate it; `dumps` writes it)."""
    when = created_at(created)
    image = inventory.image
    reference = image.reference if image is not None else "image"
    digest = image.manifest_digest if image is not None else ""
    name = image_name(reference)
    packages = [_package(p) for p in ordered_packages(inventory.packages)]
    layers = ", ".join(layer.digest for layer in image.layers) if image is not None else ""
    root = SpdxPackage(
        spdx_id=IMAGE_ID,
        name=name,
        version=digest or None,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, digest.split(":", 1)[1])]
        if digest.startswith("sha256:")
        else [],
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        source_info=f"image {reference}" + (f", layers {layers}" if layers else ""),
        external_references=[
            ExternalPackageRef(
                ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", image_purl(reference, digest)
            )
        ]
        if digest
        else [],
        primary_package_purpose=PackagePurpose.CONTAINER,
    )
    if inventory.distro is not None:
        d = inventory.distro
        packages.append(
            SpdxPackage(
                spdx_id=f"SPDXRef-OperatingSystem-{hashlib.sha256(d.id.encode()).hexdigest()[:8]}",
                name=d.id,
                version=d.version_id,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                summary=d.pretty_name,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
    content = hashlib.sha256(
        "\0".join([reference, digest, when.isoformat(), *(p.spdx_id for p in packages)]).encode()
    ).hexdigest()
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id=DOCUMENT_ID,
        name=name,
        document_namespace=f"{NAMESPACE_BASE}/{quote(name.replace('/', '-'), safe='')}-{content[:32]}",
        creators=[Actor(ActorType.TOOL, f"{TOOL_NAME}-{tool_version()}")],
        created=when,
    )
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, IMAGE_ID)]
    relationships.extend(
        Relationship(IMAGE_ID, RelationshipType.CONTAINS, p.spdx_id) for p in packages
    )
    return Document(info, packages=[root, *packages], relationships=relationships)


def dumps(inventory: Inventory, created: datetime | None = None) -> str:
    """SPDX 2.3 JSON text, ending in a newline (validation is the tests' job: it costs more than
    writing, and a document that fails it is a dockwatch bug, not the user's problem)."""
    out = io.StringIO()
    write_document_to_stream(to_document(inventory, created), out, validate=False)
    return out.getvalue() + "\n"
