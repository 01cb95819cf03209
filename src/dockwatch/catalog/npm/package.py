"""Build an npm `Package` and its purl (`pkg:npm/%40scope/name@version`)."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package


def npm_purl(name: str, version: str) -> str:
    """The purl of `name` (possibly `@scope/name`) at `version`."""
    namespace: str | None = None
    if name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)
    return PackageURL(type="npm", namespace=namespace, name=name, version=version).to_string()


def new_package(
    name: str,
    version: str,
    location: str,
    found_by: str,
    licenses: tuple[str, ...] = (),
    metadata: tuple[tuple[str, str], ...] = (),
    *,
    package_manager: str,
) -> Package:
    """An npm package found at `location`; `package_manager` is Inspector's word for the file
    (`NODEPKG` installed, `NPM` package-lock or pnpm lock, `YARN` yarn.lock)."""
    return Package(
        name=name,
        version=version,
        type="npm",
        purl=npm_purl(name, version),
        locations=(location,),
        found_by=found_by,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
        package_manager=package_manager,
    )


def licenses_of(doc: dict[str, object]) -> tuple[str, ...]:
    """`license` (SPDX string or legacy `{type}` object) or legacy `licenses` list."""
    lic = doc.get("license")
    if isinstance(lic, str) and lic:
        return (lic,)
    if isinstance(lic, dict) and isinstance(lic.get("type"), str):
        return (lic["type"],)
    many = doc.get("licenses")
    out: list[str] = []
    if isinstance(many, list):
        for item in many:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("type"), str):
                out.append(item["type"])
    return tuple(out)
