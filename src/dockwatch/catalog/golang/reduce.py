"""Shrink an executable to what the Go and Rust catalogers read, as the layer is streamed.

`catalog.layers` asks the first cataloger whose `wants()` accepts a file to `reduce()` it, so a layer's
90 MB binaries never sit in memory together (peak RSS is a target of issue 3). Go and Rust both
want executables, and whichever is asked must keep what *both* need; so both call this one
function. The result is a small, valid ELF64 file holding only:

* `.go.buildinfo`, re-encoded in the 1.18+ inline form (`encode_inline`) from the strings the
  binary stores, in whichever form it stores them (the pointer form needs the whole binary to
  resolve, so it is resolved here);
* `.dep-v0`, the cargo-auditable section, copied as is (capped);
* `.dockwatch.error`, when the binary's headers are malformed: the reason, so the Go cataloger can
  report the file as skipped without keeping it.

A file with none of these (not ELF, or ELF but neither Go nor auditable Rust) is dropped (None).
`reduce` never raises: it runs inside the layer reader.
"""

from __future__ import annotations

import struct

from dockwatch.catalog.golang.elf import ElfError, is_elf, parse_elf
from dockwatch.catalog.golang.parse_buildinfo import encode_inline, read_raw

ERROR_SECTION = ".dockwatch.error"
#: A cargo-auditable section is a few kB; anything past this cannot be a real one.
MAX_DEP_SECTION = 4 << 20


def reduce_executable(data: bytes) -> bytes | None:
    """The reduced ELF for `data`, or None when neither cataloger can find anything in it."""
    if not is_elf(data):
        return None
    sections: list[tuple[str, bytes]] = []
    try:
        elf = parse_elf(data)
        raw = read_raw(elf)
        if raw is not None:
            sections.append((".go.buildinfo", encode_inline(*raw)))
        dep = elf.section(".dep-v0")
        if dep is not None:
            body = elf.section_bytes(dep)
            sections.append((".dep-v0", body[: MAX_DEP_SECTION + 1]))
    except ElfError as exc:
        sections = [(ERROR_SECTION, exc.problem.encode())]
    if not sections:
        return None
    return build_elf(sections)


#: Where the reduced file is "loaded": one RW PT_LOAD segment maps the whole file, so Go's own
#: `debug/buildinfo` (and `go version -m`) reads a reduced file too.
BASE = 0x10000


def build_elf(sections: list[tuple[str, bytes]]) -> bytes:
    """A little-endian x86-64 ELF64 file with these sections, mapped by one PT_LOAD segment."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n, _ in sections) + b".shstrtab\0"
    start = 64 + 56  # ELF header, one program header
    body = bytearray()
    offsets: list[tuple[int, int, int]] = []  # (name offset, file offset, size)
    name_at = 1
    for name, blob in sections:
        body += bytes((-(start + len(body))) % 16)  # 16-byte aligned, as the Go linker does
        offsets.append((name_at, start + len(body), len(blob)))
        body += blob
        name_at += len(name) + 1
    strtab_off = start + len(body)
    body += names
    body += bytes((-(start + len(body))) % 8)
    shoff = start + len(body)
    shnum = len(sections) + 2
    header = bytearray(64)
    header[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", header, 16, 2, 62, 1, 0, 64, shoff, 0, 64, 56, 1, 64,
                     shnum, shnum - 1)  # fmt: skip
    phdr = struct.pack("<IIQQQQQQ", 1, 6, 0, BASE, BASE, shoff, shoff, 16)
    table = bytearray(64)  # the null section
    for name_off, off, size in offsets:
        table += struct.pack("<IIQQQQIIQQ", name_off, 1, 3, BASE + off, off, size, 0, 0, 16, 0)
    table += struct.pack("<IIQQQQIIQQ", name_at, 3, 0, 0, strtab_off, len(names), 0, 0, 1, 0)
    return bytes(header + phdr + body + table)
