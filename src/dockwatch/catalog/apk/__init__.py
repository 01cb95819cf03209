"""Alpine packages: `/lib/apk/db/installed`, with origins and file ownership."""

from dockwatch.catalog.apk.cataloger import ApkCataloger

__all__ = ["ApkCataloger"]
