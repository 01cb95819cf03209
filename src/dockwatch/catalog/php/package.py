"""Build a Composer `Package` (`pkg:composer/vendor/name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "php-composer"
LOCK_FOUND_BY = "php-composer-lock"


def new_package(
    name: str,
    version: str,
    location: str,
    licenses: tuple[str, ...],
    metadata: tuple[tuple[str, str], ...],
    found_by: str = FOUND_BY,
) -> Package:
    """A Composer package named `vendor/name` (Inspector: COMPOSER, installed or locked)."""
    vendor, _, short = name.rpartition("/")
    return Package(
        name=name,
        version=version,
        type="composer",
        purl=PackageURL(
            type="composer", namespace=vendor or None, name=short, version=version
        ).to_string(),
        locations=(location,),
        found_by=found_by,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
        package_manager="COMPOSER",
    )
