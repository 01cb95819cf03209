"""Build a Rust `Package` (`pkg:cargo/name@version`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from packageurl import PackageURL

from dockwatch.model.package import Package


def named_entries(entries: list[Any]) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(entry, name, version) of the entries that are tables with a string name and version;
    others are passed over."""
    for entry in entries:
        if isinstance(entry, dict):
            name, version = entry.get("name"), entry.get("version")
            if isinstance(name, str) and isinstance(version, str):
                yield entry, name, version


def new_package(
    name: str, version: str, location: str, found_by: str, metadata: tuple[tuple[str, str], ...]
) -> Package:
    """A crate found at `location` (Inspector says CARGO for a lock and a binary alike)."""
    return Package(
        name=name,
        version=version,
        type="rust",
        purl=PackageURL(type="cargo", name=name, version=version).to_string(),
        locations=(location,),
        found_by=found_by,
        metadata=tuple(sorted(metadata)),
        package_manager="CARGO",
    )
