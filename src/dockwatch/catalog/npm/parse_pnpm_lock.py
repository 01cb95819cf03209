"""`pnpm-lock.yaml`, lockfile versions 5.x, 6.x and 9.x.

Format: https://github.com/pnpm/spec/blob/master/lockfile/ (5.x: `/name/1.0.0_peer@2`, 6.0:
`/name@1.0.0(peer@2)`, 9.0: `name@1.0.0` keys in `packages`). Dev-only packages are skipped, as
for npm: 5.x and 6.x flag them `dev: true`; 9.0 does not, so there the packages reachable from the
importers' `dependencies` and `optionalDependencies` through `snapshots` are the runtime ones.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.npm.package import new_package
from dockwatch.catalog.npm.parse_package_json import NpmParseError
from dockwatch.model.package import Package

FOUND_BY = "npm-lockfile"


def split_key(key: str, major: int) -> tuple[str, str] | None:
    """(name, version) from a `packages` key of a lockfile of the given major version."""
    key = key.lstrip("/")
    if major <= 5:
        parts = key.split("/")
        if parts and "." in parts[0] and len(parts) > 2:
            parts = parts[1:]  # `registry.example.com/name/1.0.0`
        if parts[0].startswith("@"):
            if len(parts) < 3:
                return None
            name, version = f"{parts[0]}/{parts[1]}", parts[2]
        else:
            if len(parts) < 2:
                return None
            name, version = parts[0], parts[1]
        return name, version.split("_", 1)[0]
    key = key.split("(", 1)[0]
    at = key.find("@", 1)
    if at < 0:
        return None
    return key[:at], key[at + 1 :]


def parse_pnpm_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Every non-dev package of the lockfile."""
    import yaml  # ~10 ms to import: only when a pnpm lockfile is found

    try:
        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        raise NpmParseError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise NpmParseError(path, "not a YAML mapping")
    try:
        major = int(float(str(doc.get("lockfileVersion", "5"))))
    except (ValueError, OverflowError) as exc:
        raise NpmParseError(path, f"bad lockfileVersion {doc.get('lockfileVersion')!r}") from exc
    packages = doc.get("packages")
    if not isinstance(packages, dict):
        return
    runtime = _runtime_keys(doc) if major >= 9 else None
    seen: set[tuple[str, str]] = set()
    for key, entry in packages.items():
        if not isinstance(key, str):
            continue
        info = entry if isinstance(entry, dict) else {}
        if info.get("dev") is True:
            continue
        split = split_key(key, major)
        name = info.get("name") if isinstance(info.get("name"), str) else None
        version = info.get("version") if isinstance(info.get("version"), str) else None
        if split is not None:
            name = name or split[0]
            version = version or split[1]
        if not name or not version or (name, version) in seen:
            continue
        if runtime is not None and key not in runtime:
            continue
        seen.add((name, version))
        # Inspector has no PNPM: a pnpm lock pins npm-registry packages, as package-lock does.
        yield new_package(name, version, path, FOUND_BY, package_manager="NPM")


#: Importer sections whose packages are installed in production.
_RUNTIME_SECTIONS = ("dependencies", "optionalDependencies")


def _runtime_keys(doc: dict[object, object]) -> set[str] | None:
    """`packages` keys (`name@version`) reachable from the importers' runtime dependencies, or
    None when the lockfile lacks the importers or snapshots to tell (then all are reported)."""
    importers, snapshots = doc.get("importers"), doc.get("snapshots")
    if not isinstance(importers, dict) or not isinstance(snapshots, dict):
        return None
    todo: list[str] = []
    for importer in importers.values():
        if not isinstance(importer, dict):
            continue
        for section in _RUNTIME_SECTIONS:
            deps = importer.get(section)
            if isinstance(deps, dict):
                for name, spec in deps.items():
                    version = spec.get("version") if isinstance(spec, dict) else spec
                    todo.append(f"{name}@{version}")
    reached: set[str] = set()
    while todo:
        key = todo.pop()
        if key in reached:
            continue
        reached.add(key)
        snap = snapshots.get(key)
        if not isinstance(snap, dict):
            continue
        for section in _RUNTIME_SECTIONS:
            deps = snap.get(section)
            if isinstance(deps, dict):
                todo.extend(f"{name}@{version}" for name, version in deps.items())
    return {key.split("(", 1)[0] for key in reached}
