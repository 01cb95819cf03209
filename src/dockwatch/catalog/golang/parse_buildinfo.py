"""The build information the Go linker embeds in every binary (`go version -m` prints it).

Format, as read by the standard library's `debug/buildinfo` (go/src/debug/buildinfo/buildinfo.go):
the data section holds, 16-byte aligned, a 32-byte header starting `\\xff Go buildinf:`, then the
pointer size (byte 14) and flags (byte 15). With flag bit 2 (Go 1.18+) the Go version and the
module info follow the header inline, each a uvarint length and bytes. Without it (before 1.18),
bytes 16.. hold two pointers to Go string headers (data pointer, length) for those two strings,
in the endianness of flag bit 1. The module info is framed by 16 sentinel bytes on each side and
is a list of tab-separated lines: `path`, `mod`, `dep`, `=>` (replaces the line before), `build`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from dockwatch.catalog.golang.elf import Elf, ElfError
from dockwatch.value_class import frozen

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
#: `debug/buildinfo` searches this much of the data section for the header.
SEARCH_LIMIT = 64 << 10
#: Longest version or module-info string we accept (syft's module list is ~20 kB).
MAX_STRING = 4 << 20


@frozen
class Module:
    """A module line: path, version (may be empty or `(devel)`), go.sum hash, replacement."""

    path: str
    version: str
    sum: str = ""
    replace: Module | None = None


@dataclass(slots=True)
class BuildInfo:
    """Decoded build info of one binary."""

    go_version: str
    path: str = ""
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def find_header(elf: Elf) -> bytes | None:
    """The bytes from the build-info header on, or None if this is not a Go binary."""
    sec = elf.section(".go.buildinfo")
    if sec is not None:
        data = elf.section_bytes(sec)
    else:
        # No section table (stripped with sstrip, or never had one): the first writable,
        # non-executable segment, as debug/buildinfo does.
        seg = next((s for s in elf.segments if s.flags & 3 == 2), None)
        if seg is None:
            return None
        end = seg.offset + min(seg.filesz, SEARCH_LIMIT)
        if end > len(elf.data):
            raise ElfError("data segment past the end of the file (truncated?)")
        data = elf.data[seg.offset : end]
    start = 0
    while True:
        i = data.find(MAGIC, start)
        if i < 0 or len(data) - i < HEADER_SIZE:
            return None
        if i % ALIGN == 0:
            return data[i:]
        start = (i + ALIGN - 1) & ~(ALIGN - 1)


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ElfError("truncated varint in build info")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _inline_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = _uvarint(buf, pos)
    if n > MAX_STRING or pos + n > len(buf):
        raise ElfError("build info string runs past the section")
    return buf[pos : pos + n], pos + n


def _pointer_string(elf: Elf, header: bytes, at: int, ptr_size: int, big: bool) -> bytes:
    order: Literal["big", "little"] = "big" if big else "little"
    addr = int.from_bytes(header[at : at + ptr_size], order)
    hdr = elf.read_addr(addr, 2 * ptr_size)
    data_addr = int.from_bytes(hdr[:ptr_size], order)
    length = int.from_bytes(hdr[ptr_size:], order)
    if length > MAX_STRING:
        raise ElfError(f"build info string of {length} bytes")
    if length == 0:
        return b""
    return elf.read_addr(data_addr, length)


def read_raw(elf: Elf) -> tuple[bytes, bytes] | None:
    """(Go version, framed module info) as the binary stores them; None if not a Go binary."""
    header = find_header(elf)
    if header is None:
        return None
    ptr_size, flags = header[14], header[15]
    if flags & 2:
        version, pos = _inline_string(header, HEADER_SIZE)
        mod, _ = _inline_string(header, pos)
    else:
        if ptr_size not in (4, 8):
            raise ElfError(f"pointer size {ptr_size} in build info")
        big = bool(flags & 1)
        version = _pointer_string(elf, header, 16, ptr_size, big)
        mod = _pointer_string(elf, header, 16 + ptr_size, ptr_size, big)
    return (version, mod) if version else None


def encode_inline(version: bytes, mod: bytes) -> bytes:
    """A Go 1.18+ build-info blob (header, then both strings inline) holding these strings."""
    header = MAGIC + bytes([8, 2]) + bytes(HEADER_SIZE - len(MAGIC) - 2)
    return header + _varint(len(version)) + version + _varint(len(mod)) + mod


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_buildinfo(elf: Elf) -> BuildInfo | None:
    """The build info of a Go binary, or None when `elf` is not one."""
    raw = read_raw(elf)
    if raw is None:
        return None
    version, mod = raw
    # The framing (16 sentinel bytes each side) is stripped on bytes: it is not UTF-8.
    text = mod[16:-16] if len(mod) >= 33 and mod[-17:-16] == b"\n" else b""
    return parse_modinfo(
        version.decode("utf-8", errors="replace"), text.decode("utf-8", errors="replace")
    )


def _unquote(value: str) -> str:
    """Go quotes setting values holding spaces or quotes with strconv.Quote (JSON-compatible for
    what the toolchain writes)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            out = json.loads(value)
        except json.JSONDecodeError:
            return value[1:-1]
        return out if isinstance(out, str) else value
    return value


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """Decode the tab-separated module lines (`runtime/debug.ParseBuildInfo`'s format)."""
    info = BuildInfo(go_version=go_version)
    last: str | None = None  # "main" or "dep": which module a `=>` line replaces
    for line in text.split("\n"):
        parts = line.split("\t")
        kind = parts[0]
        if kind == "path" and len(parts) >= 2:
            info.path = parts[1]
        elif kind in ("mod", "dep") and len(parts) >= 3:
            mod = Module(parts[1], parts[2], parts[3] if len(parts) > 3 else "")
            if kind == "mod":
                info.main, last = mod, "main"
            else:
                info.deps.append(mod)
                last = "dep"
        elif kind == "=>" and len(parts) >= 2 and last is not None:
            repl = Module(
                parts[1], parts[2] if len(parts) > 2 else "", parts[3] if len(parts) > 3 else ""
            )
            if last == "main" and info.main is not None:
                info.main = Module(info.main.path, info.main.version, info.main.sum, repl)
            elif last == "dep" and info.deps:
                d = info.deps[-1]
                info.deps[-1] = Module(d.path, d.version, d.sum, repl)
            last = None
        elif kind == "build" and len(parts) >= 2:
            key, _, value = parts[1].partition("=")
            info.settings[key] = _unquote(value)
    return info
