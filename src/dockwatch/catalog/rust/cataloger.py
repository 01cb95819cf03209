"""The Rust catalogers: `Cargo.lock` files, and binaries built with cargo-auditable."""

from __future__ import annotations

from dockwatch.catalog.cataloger import CatalogResult, GlobCataloger, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.golang.cataloger import ExecutableCataloger
from dockwatch.catalog.golang.elf import ElfError, is_elf, parse_elf
from dockwatch.catalog.rust.parse_auditable import FOUND_BY as AUDITABLE
from dockwatch.catalog.rust.parse_auditable import AuditableError, read_auditable
from dockwatch.catalog.rust.parse_cargo_lock import FOUND_BY as LOCK
from dockwatch.catalog.rust.parse_cargo_lock import parse_cargo_lock
from dockwatch.model.package import Package

LOCK_CATALOGER = GlobCataloger(LOCK, version=1).parse("/**/Cargo.lock", parse_cargo_lock)


class RustAuditableCataloger(ExecutableCataloger):
    """Crates embedded by cargo-auditable; looks only at the section table of each executable."""

    name = AUDITABLE
    version = 1

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """Crates of each ELF executable that has a `.dep-v0` section. Malformed ELF headers are
        the Go cataloger's to report (both read the same files); here they are passed over."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for path, entry in files.files.items():
            data = entry.data
            if data is None or not is_elf(data) or not self.wants(path, entry.size, entry.mode):
                continue
            try:
                elf = parse_elf(data)
            except ElfError:
                continue
            try:
                found = read_auditable(path, elf)
            except (ElfError, AuditableError) as exc:
                skipped.append(Skipped(path, str(exc)))
                continue
            if found:
                packages.extend(found)
        return CatalogResult(tuple(packages), tuple(skipped))


AUDITABLE_CATALOGER = RustAuditableCataloger()
