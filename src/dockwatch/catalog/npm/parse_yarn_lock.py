"""`yarn.lock`, classic (v1) and berry (v2+).

Classic: https://classic.yarnpkg.com/lang/en/docs/yarn-lock/ - a YAML-like format of blocks whose
header lists the descriptors (`"name@^1", name@~1.2:`) and whose body has `version "1.2.3"`.
It is not YAML, so it is read line by line. Berry: https://yarnpkg.com/configuration/yarnrc and
https://github.com/yarnpkg/berry (the lockfile is real YAML with a `__metadata` key; each entry has
`version` and `resolution: name@npm:1.2.3`). The project's own workspaces (`@workspace:`) are not
dependencies and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.npm.package import new_package
from dockwatch.catalog.npm.parse_package_json import NpmParseError
from dockwatch.model.package import Package

FOUND_BY = "npm-lockfile"


def _descriptor_name(descriptor: str) -> str | None:
    """`@scope/name@^1` -> `@scope/name`; the version part starts at the first `@` after index 0."""
    at = descriptor.find("@", 1)
    return descriptor[:at] if at > 0 else None


def parse_yarn_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Packages of a classic or berry yarn lockfile."""
    text = data.decode("utf-8")
    if "\n__metadata:" in text or text.startswith("__metadata:"):
        yield from _berry(path, text)
    else:
        yield from _classic(path, text)


def _classic(path: str, text: str) -> Iterator[Package]:
    seen: set[tuple[str, str]] = set()
    name: str | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line[0].isspace():
            name = None
            if line.endswith(":"):
                first = line[:-1].split(",", 1)[0].strip().strip('"')
                name = _descriptor_name(first)
            continue
        if name is None:
            continue
        stripped = line.strip()
        if stripped.startswith("version ") and line.startswith("  ") and line[2] != " ":
            version = stripped[len("version ") :].strip().strip('"')
            if version and (name, version) not in seen:
                seen.add((name, version))
                yield new_package(name, version, path, FOUND_BY, package_manager="YARN")
            name = None


def _berry(path: str, text: str) -> Iterator[Package]:
    import yaml  # ~10 ms to import: only for a Yarn Berry lockfile

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        raise NpmParseError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise NpmParseError(path, "not a YAML mapping")
    for key, entry in doc.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = entry.get("resolution")
        version = entry.get("version")
        if not isinstance(resolution, str) or "@workspace:" in resolution:
            continue
        name = _descriptor_name(resolution)
        if name is None or version is None:
            continue
        yield new_package(
            name,
            str(version),
            path,
            FOUND_BY,
            (),
            (("resolution", resolution),),
            package_manager="YARN",
        )
