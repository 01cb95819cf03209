"""The PHP Composer cataloger."""

from __future__ import annotations

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.php.package import FOUND_BY
from dockwatch.catalog.php.parse_composer import parse_composer_lock, parse_installed_json

CATALOGER = (
    GlobCataloger(FOUND_BY, version=1)
    .parse("/**/composer/installed.json", parse_installed_json)
    .parse("/**/composer.lock", parse_composer_lock)
)
