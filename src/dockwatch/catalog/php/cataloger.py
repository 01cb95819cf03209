"""The PHP Composer catalogers: a vendor directory's `installed.json`, and `composer.lock`,
kept apart so that a locked package that is also installed is reported once, as installed."""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.php.package import FOUND_BY, LOCK_FOUND_BY
from dockwatch.catalog.php.parse_composer import parse_composer_lock, parse_installed_json

CATALOGER = GlobCataloger(FOUND_BY, version=2).parse(
    "/**/composer/installed.json", parse_installed_json
)

LOCK_CATALOGER = GlobCataloger(LOCK_FOUND_BY, version=1).parse(
    "/**/composer.lock", parse_composer_lock
)
