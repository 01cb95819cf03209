"""A zip's central directory is measured from its end records before `zipfile` reads it, and an
archive declaring one over the cap is refused wherever a feed archive is opened: the download's
verification, `db import`'s recognition, the model's reading and the parsing processes' listing."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.feeds import detect, osv, zip_directory
from dockwatch.feeds.download import DownloadPolicy
from dockwatch.feeds.feed import IncompleteDownload, ParseProblem
from dockwatch.feeds.osv_feed import OsvFeed
from dockwatch.model.advisory import Advisory
from dockwatch.vulndb import archive_members
from tests.support.advisories import osv_record
from tests.unit.feeds.upstream import Resource, Upstream, serve


def _archive(path: Path, count: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(count):
            zf.writestr(f"GO-2026-{n:05}.json", osv_record(f"GO-2026-{n:05}", "Go", f"m{n}", "1"))
    return path


def _entries_bytes(path: Path) -> int:
    """The directory's size from its entries as `zipfile` read them (APPNOTE 4.3.12: 46 bytes,
    then the name, the extra field and the comment)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    names = (i.filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437") for i in infos)
    return sum(46 + len(n) for n in names) + sum(len(i.extra) + len(i.comment) for i in infos)


@pytest.mark.parametrize("count", [1, 300, 70_000])  # 70,000 entries: a zip64 end record
def test_the_size_is_what_the_entries_take(tmp_path: Path, count: int) -> None:
    path = _archive(tmp_path / "a.zip", count) if count < 70_000 else tmp_path / "z64.zip"
    if count == 70_000:
        with zipfile.ZipFile(path, "w") as zf:
            for n in range(count):
                zf.writestr(f"{n}.json", b"")
    assert zip_directory.directory_end(path).directory_bytes == _entries_bytes(path)


def _lying(tmp_path: Path) -> Path:
    """A small archive whose end record declares a 3 GB central directory."""
    data = bytearray(_archive(tmp_path / "small.zip", 3).read_bytes())
    end = data.rindex(b"PK\x05\x06")
    data[end + 12 : end + 16] = (3 << 30).to_bytes(4, "little")
    path = tmp_path / "lying.zip"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    yield from serve()


def test_a_declared_directory_over_the_cap_is_refused_everywhere(
    tmp_path: Path, upstream: Upstream
) -> None:
    path = _lying(tmp_path)
    reason = f"central directory of {3 << 30} bytes, over the {zip_directory.MAX_DIRECTORY_BYTES}"
    [problem] = list(osv.iter_zip(path, "osv"))
    assert isinstance(problem, ParseProblem) and reason in problem.reason
    listed = archive_members.members(str(path), "osv")
    assert isinstance(listed, ParseProblem) and reason in listed.reason
    assert detect.sniff(path) is None  # `db import` sets it aside as a file it does not read

    upstream.resources["/all.zip"] = Resource(path.read_bytes())
    feed = OsvFeed("Go", url=upstream.url("/all.zip"), policy=DownloadPolicy(max_attempts=1))
    with httpx.Client(timeout=10) as http, pytest.raises(IncompleteDownload, match=reason):
        feed.fetch(None, http)


def test_a_real_directory_over_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path / "a.zip", 300)
    size = _entries_bytes(path)
    monkeypatch.setattr(zip_directory, "MAX_DIRECTORY_BYTES", size)
    assert [type(i) for i in osv.iter_zip(path, "osv")] == [Advisory] * 300
    monkeypatch.setattr(zip_directory, "MAX_DIRECTORY_BYTES", size - 1)
    [problem] = list(osv.iter_zip(path, "osv"))
    assert isinstance(problem, ParseProblem)
    assert problem.reason == (
        f"not a readable zip: central directory of {size} bytes, over the {size - 1} byte cap"
    )


def _untakeable(path: Path, how: str) -> Path:
    """An archive whose directory `zipfile` refuses with something other than `BadZipFile`: a
    name that is not UTF-8 though its entry says it is (UnicodeDecodeError), or a version
    needed to extract beyond what it knows (NotImplementedError)."""
    data = bytearray(_archive(path, 3).read_bytes())
    entry = data.find(b"PK\x01\x02")
    if how == "name":
        data[entry + 9] |= 0x08  # general purpose flags, high byte: bit 11, UTF-8 names
        data[entry + 46] = 0xFF
    else:
        data[entry + 6] = 99  # version needed to extract: 9.9
    path.write_bytes(bytes(data))
    with pytest.raises((UnicodeDecodeError, NotImplementedError)):
        zipfile.ZipFile(path)
    return path


@pytest.mark.parametrize("how", ["name", "version"])
def test_a_directory_zipfile_cannot_take_is_refused_everywhere(
    tmp_path: Path, upstream: Upstream, how: str
) -> None:
    """`db import` and the parsing processes used to stop on what `zipfile` raised there;
    each reading now tells the archive unreadable, as it tells one with no directory."""
    path = _untakeable(tmp_path / "all.zip", how)
    [problem] = list(osv.iter_zip(path, "osv"))
    assert isinstance(problem, ParseProblem) and problem.damaged
    assert problem.reason.startswith("not a readable zip: ")
    listed = archive_members.members(str(path), "osv")
    assert isinstance(listed, ParseProblem) and listed.reason == problem.reason
    assert detect.sniff(path) is None  # `db import` sets it aside as a file it does not read
    member = archive_members.Member(str(path), 0, "GO-2026-00000.json")
    read = archive_members.Archives().read(member, "osv", osv.Limits())
    assert isinstance(read, ParseProblem) and read.reason.startswith("cannot read member: ")

    upstream.resources["/all.zip"] = Resource(path.read_bytes())
    feed = OsvFeed("Go", url=upstream.url("/all.zip"), policy=DownloadPolicy(max_attempts=1))
    with httpx.Client(timeout=10) as http, pytest.raises(IncompleteDownload):
        feed.fetch(None, http)
