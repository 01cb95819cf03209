"""Build a Python `Package` (PEP 503 name, PyPI purl)."""

from __future__ import annotations

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from dockwatch.model.package import Package

FOUND_BY = "python-installed"


def new_package(
    name: str,
    version: str,
    location: str,
    licenses: tuple[str, ...] = (),
    metadata: tuple[tuple[str, str], ...] = (),
) -> Package:
    """A PyPI package; the name is normalized (PEP 503) so `Django` and `django` are one key."""
    norm = canonicalize_name(name)
    return Package(
        name=norm,
        version=version,
        type="python",
        purl=PackageURL(type="pypi", name=norm, version=version).to_string(),
        locations=(location,),
        found_by=FOUND_BY,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
    )
