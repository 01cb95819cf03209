"""Build a Rust `Package` (`pkg:cargo/name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package


def new_package(
    name: str, version: str, location: str, found_by: str, metadata: tuple[tuple[str, str], ...]
) -> Package:
    """A crate found at `location`."""
    return Package(
        name=name,
        version=version,
        type="rust",
        purl=PackageURL(type="cargo", name=name, version=version).to_string(),
        locations=(location,),
        found_by=found_by,
        metadata=tuple(sorted(metadata)),
    )
