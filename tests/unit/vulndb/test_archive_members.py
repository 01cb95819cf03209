"""A parsing process reads an archive's plain members from the entries the importing process
listed, without reading the archive's directory again; any other member through `zipfile`."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from dockwatch.feeds import osv
from dockwatch.feeds.feed import ParseProblem
from dockwatch.vulndb import archive_members, parallel
from tests.support.advisories import osv_record


def test_plain_members_are_read_without_opening_the_archive_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(5):
            zf.writestr(f"GHSA-{n}.json", osv_record(f"GHSA-{n}", "PyPI", f"p{n}", "2.0"))
        zf.writestr("GHSA-9.json", osv_record("GHSA-9", "PyPI", "p9", "2.0"), zipfile.ZIP_BZIP2)
    with zipfile.ZipFile(path) as zf:
        expected = [zf.read(info) for info in zf.infolist()]
    listed = archive_members.members(str(path), "osv")
    assert not isinstance(listed, ParseProblem)

    opened: list[object] = []
    real = zipfile.ZipFile

    def counted(*args: Any, **kwargs: Any) -> zipfile.ZipFile:
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", counted)
    archives = archive_members.Archives()
    try:
        got = [archives.read(member, "osv", osv.Limits()) for member in listed[:5]]
        assert got == expected[:5]
        assert opened == []  # the plain members: from the entries listed
        assert archives.read(listed[5], "osv", osv.Limits()) == expected[5]
        assert opened == [str(path)]  # the bzip2 member: through `zipfile`
    finally:
        archives.close()


@pytest.mark.parametrize("threads", [False, True])
def test_listed_members_parse_alike_in_forked_and_fork_server_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: bool
) -> None:
    """Beside a thread (the server's scheduled syncs) the members and their directory
    entries travel pickled to workers the fork server forks: they parse as in one process."""
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    monkeypatch.setattr(parallel, "CHUNK", 4)
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(12):
            zf.writestr(f"GHSA-{n}.json", osv_record(f"GHSA-{n}", "PyPI", f"p{n}", "2.0"))
    listed = archive_members.members(str(path), "osv")
    assert not isinstance(listed, ParseProblem)

    def parsed(workers: int) -> list[tuple[str, tuple[object, ...], dict[str, bytes]]]:
        files = parallel.parse_units(listed, osv.Limits(), workers, source="osv:PyPI")
        return [(f.path, f.items, f.digests) for f in files]

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    if threads:
        thread.start()
    try:
        pooled = parsed(2)
    finally:
        stop.set()
        if threads:
            thread.join()
    alone = parsed(1)
    assert pooled == alone
    assert sum(len(items) for _, items, _ in alone) == 12
