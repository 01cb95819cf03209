"""Just enough ELF to find a section or map a virtual address to file bytes, without copying.

Why our own: pyelftools is a heavy dependency for reading two header tables, and the cataloguer
calls this on every executable of an image. Layout: the System V gABI, chapter 4
(https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html). Every offset read is checked
against the buffer, so a truncated or hostile file raises `ElfError`, never an IndexError deep down.
"""

from __future__ import annotations

import struct

from dockwatch.catalog.cataloger import CatalogError
from dockwatch.value_class import frozen

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
PF_W = 2
#: More section or program headers than this is not a real binary.
MAX_HEADERS = 65_535


class ElfError(CatalogError):
    """A file that starts like ELF but whose headers do not fit in it."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"malformed ELF: {problem}")
        self.problem = problem


@frozen
class Section:
    """One section header: name, file offset, size, and load address."""

    name: str
    offset: int
    size: int
    addr: int
    nobits: bool


@frozen
class Segment:
    """One program header of type PT_LOAD."""

    offset: int
    vaddr: int
    filesz: int
    flags: int


@frozen
class Elf:
    """The parsed header tables of an ELF file held in `data`."""

    data: bytes
    is64: bool
    little: bool
    sections: tuple[Section, ...]
    segments: tuple[Segment, ...]

    def section(self, name: str) -> Section | None:
        """The first section called `name`."""
        return next((s for s in self.sections if s.name == name), None)

    def section_bytes(self, sec: Section) -> bytes:
        """The section's bytes (empty for NOBITS); raises ElfError if it lies outside the file."""
        if sec.nobits:
            return b""
        end = sec.offset + sec.size
        if end > len(self.data):
            raise ElfError(f"section {sec.name} ends at {end}, past the file's {len(self.data)}")
        return self.data[sec.offset : end]

    def read_addr(self, addr: int, size: int) -> bytes:
        """`size` bytes at virtual address `addr`, from the PT_LOAD segment holding it."""
        for seg in self.segments:
            if seg.vaddr <= addr and addr + size <= seg.vaddr + seg.filesz:
                start = seg.offset + (addr - seg.vaddr)
                if start + size > len(self.data):
                    break
                return self.data[start : start + size]
        raise ElfError(f"address {addr:#x}+{size} is not in a loaded segment")


def is_elf(data: bytes) -> bool:
    """Whether the bytes start with the ELF magic."""
    return data[:4] == ELF_MAGIC


def parse_elf(data: bytes) -> Elf:
    """Read the section and PT_LOAD program headers of `data`."""
    if len(data) < 52 or not is_elf(data):
        raise ElfError("too short or no ELF magic")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ElfError(f"unknown class {ei_class} or data encoding {ei_data}")
    is64, little = ei_class == 2, ei_data == 1
    e = "<" if little else ">"
    try:
        if is64:
            phoff, shoff = struct.unpack_from(e + "QQ", data, 32)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", data, 54)
        else:
            phoff, shoff = struct.unpack_from(e + "II", data, 28)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "HHHHH", data, 42)
        segments = _segments(data, e, is64, phoff, phentsize, phnum)
        sections = _sections(data, e, is64, shoff, shentsize, shnum, shstrndx)
    except struct.error as exc:
        raise ElfError(f"header table past the end of the file: {exc}") from exc
    return Elf(data, is64, little, sections, segments)


def _segments(
    data: bytes, e: str, is64: bool, off: int, entsize: int, num: int
) -> tuple[Segment, ...]:
    if off == 0 or num == 0:
        return ()
    need = 56 if is64 else 32
    if entsize < need or num > MAX_HEADERS or off + entsize * num > len(data):
        raise ElfError("program header table does not fit in the file")
    out: list[Segment] = []
    for i in range(num):
        base = off + i * entsize
        if is64:
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                e + "IIQQQQ", data, base
            )
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_flags = struct.unpack_from(
                e + "IIIIIII", data, base
            )
        if p_type == PT_LOAD:
            out.append(Segment(p_offset, p_vaddr, p_filesz, p_flags))
    return tuple(out)


def _sections(
    data: bytes, e: str, is64: bool, off: int, entsize: int, num: int, strndx: int
) -> tuple[Section, ...]:
    if off == 0 or num == 0:
        return ()
    need = 64 if is64 else 40
    if entsize < need or num > MAX_HEADERS or off + entsize * num > len(data):
        raise ElfError("section header table does not fit in the file")
    raw: list[tuple[int, int, int, int, int]] = []
    for i in range(num):
        base = off + i * entsize
        if is64:
            name, stype, _flags, addr, offset, size = struct.unpack_from(e + "IIQQQQ", data, base)
        else:
            name, stype, _flags, addr, offset, size = struct.unpack_from(e + "IIIIII", data, base)
        raw.append((name, stype, addr, offset, size))
    if strndx >= num:
        return ()
    _n, _t, _a, str_off, str_size = raw[strndx]
    if str_off + str_size > len(data):
        raise ElfError("section name table past the end of the file (truncated?)")
    strtab = data[str_off : str_off + str_size]
    out: list[Section] = []
    for name_off, stype, addr, offset, size in raw:
        name = ""
        if 0 <= name_off < len(strtab):
            end = strtab.find(b"\0", name_off)
            name = strtab[name_off : end if end >= 0 else len(strtab)].decode("latin-1")
        out.append(Section(name, offset, size, addr, stype == 8))
    return tuple(out)
