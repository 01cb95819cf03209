"""Rust crates: `Cargo.lock` files and the dependency lists cargo-auditable embeds in binaries."""

from dockwatch.catalog.rust.cataloger import AUDITABLE_CATALOGER, LOCK_CATALOGER

__all__ = ["AUDITABLE_CATALOGER", "LOCK_CATALOGER"]
