"""Inventories built in code for the format tests: purls come from packageurl-python directly."""

from __future__ import annotations

import hashlib

from packageurl import PackageURL

from dockwatch.catalog.cataloger import Skipped
from dockwatch.catalog.service import Inventory, LayerReport
from dockwatch.image.sources import LayerRef, ResolvedImage
from dockwatch.model.digest import Digest
from dockwatch.model.distro import Distro
from dockwatch.model.oci import Platform
from dockwatch.model.package import OsPackageRef, Package


def digest(text: str) -> Digest:
    """A sha256 digest of `text` (stands for a layer or manifest)."""
    return Digest("sha256:" + hashlib.sha256(text.encode()).hexdigest())


BASE = digest("base layer")
APP = digest("app layer")
MANIFEST = digest("manifest")


def packages() -> list[Package]:
    """One package of each shape the formats must carry."""
    return [
        Package(
            "openssl",
            "3.0.11-1~deb12u2",
            "deb",
            PackageURL(
                "deb", "debian", "libssl3", "3.0.11-1~deb12u2", {"arch": "amd64"}
            ).to_string(),
            layer_digest=BASE,
            locations=("/var/lib/dpkg/status",),
            found_by="dpkg-db",
            source_name="openssl",
            source_version="3.0.11-1~deb12u2",
            arch="amd64",
            licenses=("Apache-2.0",),
        ),
        Package(
            "bash",
            "5.2.15-2+b2",
            "deb",
            PackageURL("deb", "debian", "bash", "5.2.15-2+b2").to_string(),
            layer_digest=BASE,
            locations=("/var/lib/dpkg/status",),
            found_by="dpkg-db",
            source_name="bash",
            source_version="5.2.15-2",
            licenses=("GPL-3+",),  # Debian copyright style: not an SPDX identifier
        ),
        Package(
            "com.fasterxml.jackson.core:jackson-databind",
            "2.14.0",
            "java",
            PackageURL(
                "maven", "com.fasterxml.jackson.core", "jackson-databind", "2.14.0"
            ).to_string(),
            layer_digest=APP,
            locations=("/usr/share/java/jackson-databind.jar",),
            found_by="java-archive",
            os_package=OsPackageRef(
                "deb", "libjackson2-databind-java", "2.14.0-1+deb12u1", "jackson-databind"
            ),
            metadata=(("evidence", "pom.properties"),),
        ),
        Package(
            "requests",
            "2.19.1",
            "python",
            PackageURL("pypi", None, "requests", "2.19.1").to_string(),
            layer_digest=APP,
            locations=(
                "/usr/local/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA",
            ),
            found_by="python-installed",
            licenses=("Apache-2.0", "MIT"),
        ),
        # The same package twice, in two places: both entries must survive.
        Package(
            "lodash",
            "4.17.15",
            "npm",
            PackageURL("npm", None, "lodash", "4.17.15").to_string(),
            layer_digest=APP,
            locations=("/app/node_modules/lodash/package.json",),
            found_by="npm-installed",
        ),
        Package(
            "lodash",
            "4.17.15",
            "npm",
            PackageURL("npm", None, "lodash", "4.17.15").to_string(),
            layer_digest=APP,
            locations=("/app/node_modules/x/node_modules/lodash/package.json",),
            found_by="npm-installed",
        ),
    ]


def image(reference: str = "oci:/images/debian-app:latest") -> ResolvedImage:
    """A two-layer image the packages above belong to."""
    return ResolvedImage(
        reference=reference,
        manifest_digest=MANIFEST,
        media_type="application/vnd.oci.image.manifest.v1+json",
        layers=(
            LayerRef(BASE, "application/vnd.oci.image.layer.v1.tar+gzip", 100, digest("base tar")),
            LayerRef(APP, "application/vnd.oci.image.layer.v1.tar+gzip", 50, digest("app tar")),
        ),
        platform=Platform("linux", "amd64"),
    )


def inventory(
    pkgs: list[Package] | None = None,
    distro: Distro | None = None,
    with_distro: bool = True,
    reference: str = "oci:/images/debian-app:latest",
) -> Inventory:
    """An inventory over `pkgs` (default `packages()`)."""
    d = distro or (
        Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
        if with_distro
        else None
    )
    return Inventory(
        distro=d,
        packages=tuple(packages() if pkgs is None else pkgs),
        layers=(
            LayerReport(BASE, digest("base tar"), True),
            LayerReport(APP, digest("app tar"), True),
        ),
        warnings=("layer x: something partial",),
        skipped=(Skipped("/usr/share/java/broken.jar", "not a zip"),),
        image=image(reference),
    )
