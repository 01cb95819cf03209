"""Python lockfiles: `Pipfile.lock` (pipenv), `poetry.lock` (Poetry) and `uv.lock` (uv).

- Pipfile.lock (https://pipenv.pypa.io/en/latest/pipfile.html, pipenv/project.py): JSON with
  `default` and `develop` objects mapping a name to `{"version": "==1.2.3", "hashes": [...],
  "markers": "..."}`; VCS and path entries have no `version` and name no release. Both sections
  are reported, develop entries with `("dev", "true")`.
- poetry.lock (https://python-poetry.org/docs/basic-usage/#committing-your-poetrylock-file-to-
  version-control, poetry/packages/locker.py): TOML, one `[[package]]` table per locked
  distribution with `name` and `version` (Poetry < 1.5 adds `category = "dev"` for dev ones;
  later versions write `groups`).
- uv.lock (https://docs.astral.sh/uv/concepts/projects/layout/#the-lockfile): TOML, one
  `[[package]]` table with `name`, `version` and `source`; the project itself and its workspace
  members (`source = { editable | virtual = "." }`) are the code being built, not dependencies.

Inspector names PIPENV and POETRY; it has no value for uv, whose lock is reported as PIP (a
resolved set of PyPI pins, as a compiled requirements file is), never as PYTHONPKG, which says
installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dockwatch.catalog.cataloger import FileFormatError
from dockwatch.catalog.python.package import new_package
from dockwatch.catalog.python.parse_requirements import FOUND_BY
from dockwatch.model.package import Package

#: uv sources that are the project's own code
_OWN_SOURCES = ("editable", "virtual")


class PythonLockError(FileFormatError):
    """A Python lockfile that is not the JSON/TOML shape its tool writes."""


def _manifest_package(
    name: str, version: str, path: str, manager: str, meta: list[tuple[str, str]]
) -> Package:
    return new_package(name, version, path, (), tuple(meta), found_by=FOUND_BY,
                       package_manager=manager)  # fmt: skip


def parse_pipfile_lock(path: str, data: bytes) -> Iterator[Package]:
    """Every pinned entry of `default`, then of `develop`."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise PythonLockError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PythonLockError(path, "not a JSON object")
    for section, dev in (("default", False), ("develop", True)):
        entries = doc.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            version = entry.get("version") if isinstance(entry, dict) else None
            if not isinstance(version, str) or not version.startswith("=="):
                continue
            version = version.lstrip("=").strip()
            if not version or "*" in version or not name:
                continue
            meta = [("evidence", "Pipfile.lock")]
            markers = entry.get("markers")
            if isinstance(markers, str) and markers:
                meta.append(("marker", markers))
            if dev:
                meta.append(("dev", "true"))
            yield _manifest_package(name, version, path, "PIPENV", meta)


def _toml_packages(path: str, data: bytes) -> list[Any]:
    import tomllib  # only for poetry.lock and uv.lock

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise PythonLockError(path, f"invalid TOML: {exc}") from exc
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise PythonLockError(path, "`package` is not an array of tables")
    return packages


def _named(entry: object) -> tuple[dict[str, Any], str, str] | None:
    if not isinstance(entry, dict):
        return None
    name, version = entry.get("name"), entry.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return entry, name, version


def parse_poetry_lock(path: str, data: bytes) -> Iterator[Package]:
    """Every locked distribution."""
    for item in _toml_packages(path, data):
        named = _named(item)
        if named is None:
            continue
        entry, name, version = named
        meta = [("evidence", "poetry.lock")]
        if entry.get("category") == "dev":
            meta.append(("dev", "true"))
        groups = entry.get("groups")
        if isinstance(groups, list) and groups and "main" not in groups:
            meta.append(("dev", "true"))
        source = entry.get("source")
        if isinstance(source, dict) and isinstance(source.get("type"), str):
            meta.append(("source", source["type"]))
        yield _manifest_package(name, version, path, "POETRY", meta)


def parse_uv_lock(path: str, data: bytes) -> Iterator[Package]:
    """Every locked distribution but the project's own."""
    for item in _toml_packages(path, data):
        named = _named(item)
        if named is None:
            continue
        entry, name, version = named
        source = entry.get("source")
        meta = [("evidence", "uv.lock")]
        if isinstance(source, dict):
            if any(k in source for k in _OWN_SOURCES):
                continue
            kind = next(iter(source), None)
            if isinstance(kind, str):
                meta.append(("source", kind))
        yield _manifest_package(name, version, path, "PIP", meta)
