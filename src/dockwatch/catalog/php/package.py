"""Build a Composer `Package` (`pkg:composer/vendor/name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "php-composer"


def new_package(
    name: str,
    version: str,
    location: str,
    licenses: tuple[str, ...],
    metadata: tuple[tuple[str, str], ...],
) -> Package:
    """A Composer package named `vendor/name`."""
    vendor, _, short = name.rpartition("/")
    return Package(
        name=name,
        version=version,
        type="composer",
        purl=PackageURL(
            type="composer", namespace=vendor or None, name=short, version=version
        ).to_string(),
        locations=(location,),
        found_by=FOUND_BY,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
    )
