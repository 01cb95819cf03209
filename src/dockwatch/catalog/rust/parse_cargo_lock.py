"""`Cargo.lock`: https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html.

A TOML file with one `[[package]]` table per crate (`name`, `version`, `source`, `checksum`). Every
crate is reported, including the workspace's own (no `source`), as syft does; `source` goes into
metadata so a matcher can tell registry crates from local ones.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockwatch.catalog.cataloger import FileFormatError, ParseEnv
from dockwatch.catalog.rust.package import named_entries, new_package
from dockwatch.model.package import Package

FOUND_BY = "rust-cargo-lock"


class CargoLockError(FileFormatError):
    """A Cargo.lock that is not valid TOML or has no package list."""


def parse_cargo_lock(path: str, data: bytes, env: ParseEnv) -> Iterator[Package]:
    """Every `[[package]]` with a name and a version."""
    import tomllib  # only when a Cargo.lock is found

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise CargoLockError(path, f"invalid TOML: {exc}") from exc
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise CargoLockError(path, "`package` is not an array of tables")
    for entry, name, version in named_entries(packages):
        source = entry.get("source")
        meta = (("source", source),) if isinstance(source, str) else (("source", "local"),)
        yield new_package(name, version, path, FOUND_BY, meta)
