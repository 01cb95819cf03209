"""The Go binary cataloger.

It declares no globs: Go binaries live anywhere. `wants` asks the layer reader for executable
regular files within a size budget, and `reduce` shrinks each, as it is read, to a tiny ELF holding
only its build info (`golang.reduce`); `catalog` then checks the ELF magic and looks up the
`.go.buildinfo` section through the section table, so a non-Go executable costs a header parse,
never a scan of its bytes. Unreduced files (tests, other readers) are read the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from dockwatch.catalog.cataloger import CatalogResult, LayerFiles, ParseEnv, Skipped
from dockwatch.catalog.golang.elf import ElfError, is_elf, parse_elf
from dockwatch.catalog.golang.package import FOUND_BY, packages_of
from dockwatch.catalog.golang.parse_buildinfo import read_buildinfo
from dockwatch.catalog.golang.reduce import ERROR_SECTION, reduce_executable
from dockwatch.model.package import Package

#: Smaller than this cannot be a Go binary (the runtime alone is ~1 MB); bigger is not read.
MIN_SIZE = 64 << 10
MAX_SIZE = 512 << 20
#: Directories holding shared objects and other executables that are never Go programs.
_NEVER = ("/proc/", "/sys/", "/dev/")


def wants_executable(path: str, size: int, mode: int) -> bool:
    """An executable regular file within the size budget (shared by the Rust cataloger)."""
    return bool(mode & 0o111) and MIN_SIZE <= size <= MAX_SIZE and not path.startswith(_NEVER)


class ExecutableCataloger(ABC):
    """What the Go and Rust binary catalogers share: they read executables within budget, not
    globs, and keep only the sections both need (`golang.reduce`), whichever is asked."""

    globs: tuple[str, ...] = ()
    #: errors that make one executable unreadable: it is skipped with the reason
    unreadable: tuple[type[Exception], ...] = (ElfError,)

    def wants(self, path: str, size: int, mode: int) -> bool:
        """Executables within budget; the ELF check happens on their bytes."""
        return wants_executable(path, size, mode)

    def reduce(self, path: str, data: bytes) -> bytes | None:
        """Keep only the Go build info and a Rust `.dep-v0`: see `golang.reduce`."""
        return reduce_executable(data)

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        """The packages of each candidate ELF file; an unreadable one is skipped with the reason."""
        packages: list[Package] = []
        skipped: list[Skipped] = []
        for path, entry in files.files.items():
            data = entry.data
            if data is None or not is_elf(data) or not self.wants(path, entry.size, entry.mode):
                continue
            try:
                packages.extend(self.packages(path, data))
            except self.unreadable as exc:
                skipped.append(Skipped(path, str(exc)))
        return CatalogResult(tuple(packages), tuple(skipped))

    @abstractmethod
    def packages(self, path: str, data: bytes) -> Sequence[Package]:
        """The packages one ELF executable holds (none when it is not of this kind)."""


class GoBinaryCataloger(ExecutableCataloger):
    """Modules and toolchain of every Go executable in a layer."""

    name = FOUND_BY
    version = 2

    def packages(self, path: str, data: bytes) -> Sequence[Package]:
        """Build info of a Go executable; a malformed ELF is an `ElfError`, reported."""
        elf = parse_elf(data)
        error = elf.section(ERROR_SECTION)
        if error is not None:
            raise ElfError(elf.section_bytes(error).decode("utf-8", errors="replace"))
        info = read_buildinfo(elf)
        return packages_of(path, info) if info is not None else ()


CATALOGER = GoBinaryCataloger()
