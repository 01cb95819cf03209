"""npm packages: installed `package.json` files and the lockfiles of npm, yarn and pnpm."""

from dockwatch.catalog.npm.cataloger import INSTALLED_CATALOGER, LOCK_CATALOGER

__all__ = ["INSTALLED_CATALOGER", "LOCK_CATALOGER"]
