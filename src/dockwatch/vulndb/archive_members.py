"""OSV archives (osv.dev's `all.zip`) split into their members, so that the parsing processes
read and parse them as they do the files of a folder of records.

The importing process lists an archive's record members once (`members`); each parsing
process opens the archive once and reads the members of the chunks it takes (`Archives`), with
the caps `osv.iter_zip` applies. What depends on order, the total bytes an archive may expand
to, stays with the importing process (`parallel.parse_units`).
"""

from __future__ import annotations

import zipfile
from typing import NamedTuple

from dockwatch.feeds import osv, zip_directory
from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.zip_members import MemberReader, span_ends


class Member(NamedTuple):
    """A record member of an archive: its place among the archive's record members (names
    may repeat in a zip) and its name; its directory entry and where its bytes must end, as
    the importing process listed them, so that a parsing process reads a plain member without
    reading the archive's directory again (`zip_members`)."""

    archive: str
    position: int
    name: str
    info: zipfile.ZipInfo | None = None
    span_end: int | None = None

    @property
    def where(self) -> str:
        """What problems name: `archive!member`, as `osv.iter_zip` names it."""
        return f"{self.archive}!{self.name}"


def members(path: str, source: str) -> list[Member] | ParseProblem:
    """The record members of the archive `path`, in its order, or why it cannot be read."""
    try:
        zf, end = zip_directory.open_zip(path)
        with zf:
            infos = osv.record_members(zf)
            ends = span_ends(zf.infolist(), end.directory_at)
    except (zipfile.BadZipFile, OSError) as e:
        return osv.archive_problem(source, path, f"not a readable zip: {e}")
    return [
        Member(path, i, info.filename, info, ends[info.header_offset])
        for i, info in enumerate(infos)
    ]


class Archives:
    """The archives one process has opened, each with its record members: a chunk of 100
    members would otherwise read the central directory of a 7,000-member archive again."""

    def __init__(self) -> None:
        self._readers: dict[str, MemberReader] = {}
        self._open: dict[str, tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]] = {}

    def read(self, member: Member, source: str, limits: osv.Limits) -> bytes | ParseProblem:
        """The member's bytes, or the problem that stops it (`osv.read_member`): a plain
        member as listed, by a positioned read; any other through `zipfile`, from this
        process's own reading of the archive's directory."""
        info = member.info
        if info is not None and info.file_size <= limits.max_record_bytes:
            reader = self._readers.get(member.archive)
            if reader is None:
                reader = self._readers[member.archive] = MemberReader(member.archive)
            data = reader.read_span(info, limits.max_record_bytes, member.span_end)
            if data is not None:
                return data
        entry = self._open.get(member.archive)
        if entry is None:
            try:
                zf, _end = zip_directory.open_zip(member.archive)
            except (zipfile.BadZipFile, OSError) as e:
                return osv.archive_problem(source, member.where, f"cannot read member: {e}")
            entry = self._open[member.archive] = (zf, osv.record_members(zf))
        zf, infos = entry
        if member.position >= len(infos) or infos[member.position].filename != member.name:
            reason = "cannot read member: the archive changed while it was read"
            return osv.archive_problem(source, member.where, reason)
        return osv.read_member(zf, infos[member.position], member.where, source, limits)

    def close(self) -> None:
        """Close every archive opened."""
        for reader in self._readers.values():
            reader.close()
        for zf, _ in self._open.values():
            zf.close()
        self._readers.clear()
        self._open.clear()


WORKER_ARCHIVES = Archives()
"""The archives a parsing process has opened: kept open until it ends, with the pool."""
