"""Build a Python `Package` (PEP 503 name, PyPI purl)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "python-installed"


def new_package(
    name: str,
    version: str,
    location: str,
    licenses: tuple[str, ...] = (),
    metadata: tuple[tuple[str, str], ...] = (),
    found_by: str = FOUND_BY,
    package_manager: str = "PYTHONPKG",
) -> Package:
    """A PyPI package; the name is normalized (PEP 503) so `Django` and `django` are one key.
    Installed by default; manifests pass their own `found_by` and Inspector manager."""
    from packaging.utils import canonicalize_name  # ~5 ms to import: only when Python is found

    norm = canonicalize_name(name)
    return Package(
        name=norm,
        version=version,
        type="python",
        purl=PackageURL(type="pypi", name=norm, version=version).to_string(),
        locations=(location,),
        found_by=found_by,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
        package_manager=package_manager,
    )
