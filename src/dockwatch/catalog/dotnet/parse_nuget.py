"""NuGet's project-side manifests: `packages.lock.json`, `packages.config` and `*.csproj`.

- packages.lock.json (https://learn.microsoft.com/nuget/consume-packages/package-references-in-
  project-files#locking-dependencies): `{"version": 1|2, "dependencies": {TFM: {Name: {"type":
  "Direct"|"Transitive"|"CentralTransitive"|"Project", "resolved": "1.2.3", ...}}}}`; `Project`
  entries are the solution's own projects.
- packages.config (https://learn.microsoft.com/nuget/reference/packages-config): `<packages>`
  of `<package id version targetFramework developmentDependency/>`.
- *.csproj (https://learn.microsoft.com/nuget/consume-packages/package-references-in-project-
  files): `<PackageReference Include="Name" Version="1.2.3"/>`, or the version as a child
  element; `$(Name)` is read from the project's own `<PropertyGroup>`s. NuGet resolves a bare
  version to the lowest available at or above it, normally that one; `[1.2.3]` pins exactly.
  Ranges and floating versions (`1.*`) name no version and are not packages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from dockwatch.catalog.cataloger import FileFormatError
from dockwatch.catalog.xml_doc import parse_xml, text_of
from dockwatch.value_class import frozen

#: NuGet's version syntax: 1 to 4 numeric parts, optional prerelease and metadata.
_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_MSBUILD_PROPERTY = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SKIPPED_LOCK_TYPES = frozenset({"Project"})


class NugetManifestError(FileFormatError):
    """A NuGet manifest that is not the JSON/XML shape its format documents."""


@frozen
class Reference:
    """One package a manifest names; `version` None when it names no single version."""

    name: str
    version: str | None
    raw: str
    meta: tuple[tuple[str, str], ...]


def exact_version(raw: str) -> str | None:
    """`1.2.3` or `[1.2.3]` -> `1.2.3`; ranges, floating and empty versions -> None."""
    value = raw.strip()
    if value.startswith("[") and value.endswith("]") and "," not in value:
        value = value[1:-1].strip()
    return value if _VERSION.match(value) else None


def parse_packages_lock(path: str, data: bytes) -> Iterator[Reference]:
    """Resolved packages of every target framework (each once)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NugetManifestError(path, f"invalid JSON: {exc}") from exc
    frameworks = doc.get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(frameworks, dict):
        raise NugetManifestError(path, "no `dependencies` object")
    seen: set[tuple[str, str]] = set()
    for deps in frameworks.values():
        if not isinstance(deps, dict):
            continue
        for name, entry in deps.items():
            if not isinstance(entry, dict) or entry.get("type") in _SKIPPED_LOCK_TYPES:
                continue
            resolved = entry.get("resolved")
            if not isinstance(resolved, str) or (name, resolved) in seen:
                continue
            seen.add((name, resolved))
            kind = str(entry.get("type", ""))
            yield Reference(name, exact_version(resolved), resolved, (("dependency_type", kind),))


def parse_packages_config(path: str, data: bytes) -> Iterator[Reference]:
    """Every `<package>` element."""
    root = parse_xml(path, data)
    if root.tag != "packages":
        raise NugetManifestError(path, f"root element is <{root.tag}>, not <packages>")
    for pkg in root.iter("package"):
        name, raw = pkg.get("id"), pkg.get("version")
        if not name or raw is None:
            continue
        meta: tuple[tuple[str, str], ...] = ()
        if pkg.get("developmentDependency", "").lower() == "true":
            meta = (("dev", "true"),)
        yield Reference(name, exact_version(raw), raw, meta)


def parse_csproj(path: str, data: bytes) -> Iterator[Reference]:
    """Every `<PackageReference Include=...>` with its version, properties expanded."""
    root = parse_xml(path, data)
    props: dict[str, str] = {}
    for group in root.iter("PropertyGroup"):
        for prop in group:
            if isinstance(prop.tag, str) and prop.text is not None:
                props.setdefault(prop.tag, prop.text.strip())
    for ref in root.iter("PackageReference"):
        name = ref.get("Include")
        raw = ref.get("Version") or text_of(ref, "Version") or ref.get("VersionOverride")
        if not name or raw is None:
            continue  # `Update=` items and centrally managed versions name none here
        expanded = _MSBUILD_PROPERTY.sub(lambda m: props.get(m.group(1), m.group(0)), raw)
        version = None if "$(" in expanded else exact_version(expanded)
        yield Reference(name, version, raw, ())
