"""RPM packages from the sqlite, Berkeley DB (hash) and NDB rpmdb formats."""

from dockwatch.catalog.rpm.cataloger import RpmCataloger

__all__ = ["RpmCataloger"]
