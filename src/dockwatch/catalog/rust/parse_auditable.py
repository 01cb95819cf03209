"""The dependency list cargo-auditable embeds in a binary's `.dep-v0` ELF section.

Format: https://github.com/rust-secure-code/cargo-auditable/blob/master/PARSING.md - the section is
zlib-compressed JSON `{"packages": [{"name", "version", "source", "kind", "dependencies", "root"}]}`
where `kind` is `runtime` (the default when absent) or `build`. Decompression is capped: the
documented limit for the JSON is 8 MiB.
"""

from __future__ import annotations

import json
import zlib

from dockwatch.catalog.cataloger import CatalogError
from dockwatch.catalog.golang.elf import Elf
from dockwatch.catalog.rust.package import named_entries, new_package
from dockwatch.model.package import Package

FOUND_BY = "rust-auditable-binary"
SECTION = ".dep-v0"
MAX_JSON = 8 << 20


class AuditableError(CatalogError):
    """A `.dep-v0` section that is not capped zlib-compressed JSON of the documented shape."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"cargo-auditable data: {problem}")
        self.problem = problem


def read_auditable(binary: str, elf: Elf) -> list[Package] | None:
    """The crates listed in the binary, or None when it has no `.dep-v0` section."""
    sec = elf.section(SECTION)
    if sec is None:
        return None
    raw = elf.section_bytes(sec)
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, MAX_JSON + 1)
    except zlib.error as exc:
        raise AuditableError(f"not zlib data: {exc}") from exc
    if len(text) > MAX_JSON or inflater.unconsumed_tail:
        raise AuditableError(f"decompresses to more than {MAX_JSON} bytes")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise AuditableError(f"invalid JSON: {exc}") from exc
    packages = doc.get("packages") if isinstance(doc, dict) else None
    if not isinstance(packages, list):
        raise AuditableError("no `packages` list")
    out: list[Package] = []
    for entry, name, version in named_entries(packages):
        meta = [
            ("source", str(entry.get("source", ""))),
            ("kind", str(entry.get("kind", "runtime"))),
        ]
        if entry.get("root") is True:
            meta.append(("root", "true"))
        out.append(new_package(name, version, binary, FOUND_BY, tuple(meta)))
    return out
