"""`package-lock.json` (and `npm-shrinkwrap.json`), lockfile versions 1, 2 and 3.

Format: https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json. Version 1 nests
`dependencies` maps; versions 2 and 3 have a flat `packages` map keyed by install path
(`node_modules/a/node_modules/b`), which we prefer when present. The root entry (`""`), symlinks to
workspaces (`link: true`, their target has its own entry) and `dev: true` entries (not installed by
`npm ci --omit=dev`, and skipped by syft too) are not reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from dockwatch.catalog.cataloger import ParseEnv
from dockwatch.catalog.npm.package import licenses_of, new_package
from dockwatch.catalog.npm.parse_package_json import NpmParseError
from dockwatch.model.package import Package

FOUND_BY = "npm-lockfile"
#: Version 1 nests dependencies; a hostile lock could nest deeper than the recursion limit.
MAX_DEPTH = 64


def parse_package_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Every non-dev package the lockfile pins."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NpmParseError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise NpmParseError(path, "not a JSON object")
    packages = doc.get("packages")
    if isinstance(packages, dict):
        yield from _v2(path, packages)
        return
    deps = doc.get("dependencies")
    if isinstance(deps, dict):
        yield from _v1(path, deps, 0)


def _v2(path: str, packages: dict[str, object]) -> Iterator[Package]:
    for key, entry in packages.items():
        if not key or not isinstance(entry, dict) or entry.get("link") is True:
            continue
        if entry.get("dev") is True:
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            idx = key.rfind("node_modules/")
            if idx < 0:
                continue  # a workspace folder without a name field
            name = key[idx + len("node_modules/") :]
        version = entry.get("version")
        if not isinstance(version, str) or not version:
            continue
        yield new_package(
            name,
            version,
            path,
            FOUND_BY,
            licenses_of(entry),
            (("lock_path", key),),
            package_manager="NPM",
        )


def _v1(path: str, deps: dict[str, object], depth: int) -> Iterator[Package]:
    if depth > MAX_DEPTH:
        raise NpmParseError(path, f"dependencies nested deeper than {MAX_DEPTH}")
    for name, entry in deps.items():
        if not isinstance(entry, dict):
            continue
        version = entry.get("version")
        if entry.get("dev") is not True and isinstance(version, str) and version:
            yield new_package(name, version, path, FOUND_BY, package_manager="NPM")
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            yield from _v1(path, nested, depth + 1)
