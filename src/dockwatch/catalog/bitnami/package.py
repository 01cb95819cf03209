"""Build a Bitnami `Package` (`pkg:bitnami/name@version?arch=...&distro=...`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "bitnami-spdx"


def bitnami_purl(name: str, version: str, given: str | None) -> str:
    """The document's own purl when it is a valid `pkg:bitnami/...`, else one built from fields."""
    if given:
        try:
            parsed = PackageURL.from_string(given)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.type == "bitnami":
            return str(parsed.to_string())
    return str(PackageURL(type="bitnami", name=name, version=version).to_string())


def new_package(
    name: str,
    version: str,
    location: str,
    purl: str | None,
    licenses: tuple[str, ...],
    metadata: tuple[tuple[str, str], ...],
) -> Package:
    """A Bitnami component."""
    return Package(
        name=name,
        version=version,
        type="bitnami",
        purl=bitnami_purl(name, version, purl),
        locations=(location,),
        found_by=FOUND_BY,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
    )
