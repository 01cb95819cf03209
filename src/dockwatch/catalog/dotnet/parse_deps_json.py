"""`APP.deps.json`, the dependency manifest the .NET SDK writes next to an application.

Format: https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md
(`libraries` maps `Name/Version` to `{"type", "serviceable", "sha512", "path"}`; `type` is
`package` for NuGet packages, `project` for the application and its project references,
`runtimepack` for the runtime of a self-contained app, `reference`/`referenceassembly` for framework
assemblies, which are not NuGet packages and are skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from dockwatch.catalog.cataloger import FileFormatError, ParseEnv
from dockwatch.catalog.dotnet.package import new_package
from dockwatch.model.package import Package

REPORTED_TYPES = frozenset({"package", "project", "runtimepack"})


class DepsJsonError(FileFormatError):
    """A deps.json that is not JSON with a `libraries` object."""


def parse_deps_json(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """One package per library of a reported type."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DepsJsonError(path, f"invalid JSON: {exc}") from exc
    libraries = doc.get("libraries") if isinstance(doc, dict) else None
    if not isinstance(libraries, dict):
        raise DepsJsonError(path, "no `libraries` object")
    for key, lib in libraries.items():
        name, sep, version = key.rpartition("/")
        if not sep or not name or not version or not isinstance(lib, dict):
            continue
        kind = lib.get("type")
        if kind not in REPORTED_TYPES:
            continue
        meta: list[tuple[str, str]] = [("library_type", str(kind))]
        sha = lib.get("sha512")
        if isinstance(sha, str) and sha:
            meta.append(("sha512", sha))
        yield new_package(name, version, path, tuple(meta))
