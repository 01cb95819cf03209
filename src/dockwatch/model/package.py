"""An installed package as the cataloguer reports it and the matcher consumes it."""

from __future__ import annotations

from dataclasses import field

from dockwatch.model.digest import Digest
from dockwatch.value_class import frozen

#: Package types (ecosystems) that `dockwatch sbom` emits in its `type` field.
PACKAGE_TYPES = (
    "deb",
    "apk",
    "rpm",
    "python",
    "npm",
    "java",
    "go",
    "rust",
    "gem",
    "composer",
    "nuget",
    "bitnami",
)

OS_PACKAGE_TYPES = frozenset({"deb", "apk", "rpm"})

#: Inspector's `PackageManager` enum (botocore 1.44.8): the kind of file a package was found in.
PACKAGE_MANAGERS = (
    "BUNDLER", "CARGO", "COMPOSER", "NPM", "NUGET", "PIPENV", "POETRY", "YARN", "GOBINARY",
    "GOMOD", "JAR", "OS", "PIP", "PYTHONPKG", "NODEPKG", "POM", "GEMSPEC", "DOTNET_CORE",
)  # fmt: skip


@frozen
class OsPackageRef:
    """The OS package that owns a file-based package (a Debian-packaged jar, say)."""

    type: str
    """`deb`, `apk` or `rpm`."""
    name: str
    """The binary package name that owns the file."""
    version: str
    """That package's full version."""
    source_name: str | None = None
    """Its source package, which the distribution's advisories are about."""
    source_version: str | None = None
    """The source package version, when it differs from `version`."""


@frozen
class Package:
    """One package installed in an image, attributed to the layer that introduced it."""

    name: str
    """Name as the ecosystem spells it (PEP 503 normalized for Python, group:artifact for Maven)."""
    version: str
    """Version exactly as installed (full dpkg/rpm version including epoch and release)."""
    type: str
    """Ecosystem, one of `PACKAGE_TYPES`."""
    purl: str
    """Package URL built with packageurl-python."""
    layer_digest: Digest | None = None
    """Compressed digest of the layer that introduced this package (None before attribution)."""
    locations: tuple[str, ...] = ()
    """Paths (absolute, inside the image) the package was read from."""
    found_by: str = ""
    """Name of the cataloger that produced it."""
    source_name: str | None = None
    """OS packages: the source package name (advisories for Debian/Alpine/RPM are about it)."""
    source_version: str | None = None
    """OS packages: the source package version when it differs from `version`."""
    epoch: int | None = None
    """rpm/dpkg epoch where the ecosystem has one."""
    release: str | None = None
    """rpm release, where the ecosystem has one."""
    arch: str | None = None
    """Architecture of a binary package."""
    os_package: OsPackageRef | None = None
    """File-based packages owned by an OS package: that owner; matching goes through it only."""
    licenses: tuple[str, ...] = ()
    """Licence names or SPDX expressions, where cheap to read."""
    metadata: tuple[tuple[str, str], ...] = field(default=())
    """Extra facts worth keeping (e.g. ("evidence", "pom.properties")), as sorted key/value pairs."""
    package_manager: str = ""
    """Inspector's `PackageManager` for the file the package was read from (`YARN` for a
    yarn.lock entry, `PYTHONPKG` for a dist-info); "" when the cataloger did not say (results
    cached before catalogers set it, OS databases), and findings then derive it from `type`."""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity inside one image inventory: (type, name, version)."""
        return (self.type, self.name, self.version)
