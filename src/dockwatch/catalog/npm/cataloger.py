"""The npm catalogers: installed manifests, and lockfiles (kept apart so each can be versioned).

Installed `package.json` paths are what Debian's file lists hold (`/usr/share/nodejs/x/package.json`),
so coalescing can give such a module its `os_package`.
"""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.npm.parse_package_json import FOUND_BY as INSTALLED
from dockwatch.catalog.npm.parse_package_json import parse_package_json
from dockwatch.catalog.npm.parse_package_lock import FOUND_BY as LOCK
from dockwatch.catalog.npm.parse_package_lock import parse_package_lock
from dockwatch.catalog.npm.parse_pnpm_lock import parse_pnpm_lock
from dockwatch.catalog.npm.parse_yarn_lock import parse_yarn_lock

INSTALLED_CATALOGER = GlobCataloger(INSTALLED, version=2).parse(
    "/**/package.json", parse_package_json
)

LOCK_CATALOGER = (
    GlobCataloger(LOCK, version=2)
    .parse("/**/package-lock.json", parse_package_lock)
    .parse("/**/npm-shrinkwrap.json", parse_package_lock)
    .parse("/**/yarn.lock", parse_yarn_lock)
    .parse("/**/pnpm-lock.yaml", parse_pnpm_lock)
)
