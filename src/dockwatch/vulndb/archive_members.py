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
from dockwatch.feeds.zip_members import MemberReader


class Member(NamedTuple):
    """A record member of an archive: its place among the archive's record members (names
    may repeat in a zip) and its name."""

    archive: str
    position: int
    name: str

    @property
    def where(self) -> str:
        """What problems name: `archive!member`, as `osv.iter_zip` names it."""
        return f"{self.archive}!{self.name}"


def members(path: str, source: str) -> list[Member] | ParseProblem:
    """The record members of the archive `path`, in its order, or why it cannot be read."""
    try:
        zip_directory.check_directory(path)
        with zipfile.ZipFile(path) as zf:
            infos = osv.record_members(zf)
    except (zipfile.BadZipFile, OSError) as e:
        return osv.archive_problem(source, path, f"not a readable zip: {e}")
    return [Member(path, i, info.filename) for i, info in enumerate(infos)]


class Archives:
    """The archives one process has opened, each with its record members: a chunk of 100
    members would otherwise read the central directory of a 7,000-member archive again."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[zipfile.ZipFile, list[zipfile.ZipInfo], MemberReader]] = {}

    def read(self, member: Member, source: str, limits: osv.Limits) -> bytes | ParseProblem:
        """The member's bytes, or the problem that stops it (`osv.read_member`)."""
        entry = self._open.get(member.archive)
        if entry is None:
            try:
                end = zip_directory.check_directory(member.archive)
                zf = zipfile.ZipFile(member.archive)
            except (zipfile.BadZipFile, OSError) as e:
                return osv.archive_problem(source, member.where, f"cannot read member: {e}")
            reader = MemberReader(member.archive, zf.infolist(), end.directory_at)
            entry = self._open[member.archive] = (zf, osv.record_members(zf), reader)
        zf, infos, reader = entry
        if member.position >= len(infos) or infos[member.position].filename != member.name:
            reason = "cannot read member: the archive changed while it was read"
            return osv.archive_problem(source, member.where, reason)
        info = infos[member.position]
        return osv.read_member(zf, info, member.where, source, limits, reader)

    def close(self) -> None:
        """Close every archive opened."""
        for zf, _, reader in self._open.values():
            reader.close()
            zf.close()
        self._open.clear()


WORKER_ARCHIVES = Archives()
"""The archives a parsing process has opened: kept open until it ends, with the pool."""
