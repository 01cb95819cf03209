"""Installed npm packages from `package.json` files.

Like syft's javascript-package-cataloger, every `package.json` with a string `name` and `version`
is a package, wherever it sits (`node_modules/**`, Debian's `/usr/share/nodejs`, an app's root):
a file without both (an ESM `{"type": "module"}` marker, a workspace root) is not a package and
yields nothing. We do not guess at "test fixture" directories by name: a fixture with a name and a
version is still code shipped in the image, and dropping it would hide what syft reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from dockwatch.catalog.cataloger import FileFormatError, ParseEnv
from dockwatch.catalog.npm.package import licenses_of, new_package
from dockwatch.model.package import Package

FOUND_BY = "npm-installed"


class NpmParseError(FileFormatError):
    """An npm manifest or lockfile that is not the JSON/YAML shape its format documents."""


def parse_package_json(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """One package if the manifest names itself with a version."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NpmParseError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        return
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return
    meta: list[tuple[str, str]] = []
    if doc.get("private") is True:
        meta.append(("private", "true"))
    yield new_package(
        name, version, path, FOUND_BY, licenses_of(doc), tuple(meta), package_manager="NODEPKG"
    )
