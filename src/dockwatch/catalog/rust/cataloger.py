"""The Rust catalogers: `Cargo.lock` files, and binaries built with cargo-auditable."""

from __future__ import annotations

from collections.abc import Sequence

from dockwatch.catalog.cataloger import GlobCataloger
from dockwatch.catalog.golang.cataloger import ExecutableCataloger
from dockwatch.catalog.golang.elf import ElfError, parse_elf
from dockwatch.catalog.rust.parse_auditable import FOUND_BY as AUDITABLE
from dockwatch.catalog.rust.parse_auditable import AuditableError, read_auditable
from dockwatch.catalog.rust.parse_cargo_lock import FOUND_BY as LOCK
from dockwatch.catalog.rust.parse_cargo_lock import parse_cargo_lock
from dockwatch.model.package import Package

LOCK_CATALOGER = GlobCataloger(LOCK, version=2).parse("/**/Cargo.lock", parse_cargo_lock)


class RustAuditableCataloger(ExecutableCataloger):
    """Crates embedded by cargo-auditable; looks only at the section table of each executable."""

    name = AUDITABLE
    version = 2

    unreadable = (ElfError, AuditableError)

    def packages(self, path: str, data: bytes) -> Sequence[Package]:
        """Crates of an ELF executable that has a `.dep-v0` section. Malformed ELF headers are
        the Go cataloger's to report (both read the same files); here they are passed over."""
        try:
            elf = parse_elf(data)
        except ElfError:
            return ()
        return read_auditable(path, elf) or ()


AUDITABLE_CATALOGER = RustAuditableCataloger()
