"""RPM packages from the sqlite, Berkeley DB (hash) and NDB rpmdb formats, and from the rpm
manifest of distroless CBL-Mariner / Azure Linux images."""

from dockwatch.catalog.rpm.cataloger import RpmCataloger
from dockwatch.catalog.rpm.manifest import RpmManifestCataloger

__all__ = ["RpmCataloger", "RpmManifestCataloger"]
