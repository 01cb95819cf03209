"""Build a Ruby `Package` (`pkg:gem/name@version?platform=...`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "ruby-gems"
LOCK_FOUND_BY = "ruby-gemfile-lock"


def new_package(
    name: str,
    version: str,
    location: str,
    licenses: tuple[str, ...] = (),
    platform: str | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    found_by: str = FOUND_BY,
    package_manager: str = "GEMSPEC",
) -> Package:
    """A gem; a platform other than `ruby` is a purl qualifier, not part of the version.
    Installed (GEMSPEC) by default; Gemfile.lock entries are BUNDLER's."""
    qualifiers = {"platform": platform} if platform and platform != "ruby" else None
    return Package(
        name=name,
        version=version,
        type="gem",
        purl=PackageURL(type="gem", name=name, version=version, qualifiers=qualifiers).to_string(),
        locations=(location,),
        found_by=found_by,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
        package_manager=package_manager,
    )
