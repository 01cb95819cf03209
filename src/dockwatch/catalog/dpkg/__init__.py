"""Debian packages: `/var/lib/dpkg/status`, distroless `status.d/*`, and file ownership."""

from dockwatch.catalog.dpkg.cataloger import DpkgCataloger

__all__ = ["DpkgCataloger"]
