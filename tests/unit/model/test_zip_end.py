"""An archive's end records and central directory are read where `zipfile` reads them: the
oracle is `zipfile` itself (`start_dir`, the entries it lists, the bytes they take)."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.model.zip_end import (
    ENTRY_BYTES,
    archive_end,
    count_entries,
    too_many_entries,
)
from tests.builders.zips import lying_directory


def _zip(
    names: list[str], comment: bytes = b"", entry_comment: bytes = b"", prefix: bytes = b""
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            info = zipfile.ZipInfo(name)
            info.comment = entry_comment
            zf.writestr(info, name.encode() * 3)
        zf.comment = comment
    return prefix + buf.getvalue()


def _agrees_with_zipfile(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos, start = zf.infolist(), zf.start_dir
    except zipfile.BadZipFile as e:  # a comment ending in a signature: the record is cut
        assert str(e) == "File is not a zip file"
        assert archive_end(data) is None
        return
    names = (i.filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437") for i in infos)
    taken = sum(ENTRY_BYTES + len(n) for n in names)
    taken += sum(len(i.extra) + len(i.comment) for i in infos)
    end = archive_end(data)
    assert end is not None
    assert (end.entries, end.directory_bytes, end.directory_at) == (len(infos), taken, start)
    assert count_entries(data, end, len(infos) + 10) == len(infos)
    assert too_many_entries(data, len(infos)) is None
    if infos:
        assert too_many_entries(data, len(infos) - 1) is not None


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=40), max_size=30, unique=True),
    comment=st.binary(max_size=300) | st.just(b"PK\x05\x06" * 7),
    entry_comment=st.binary(max_size=20),
    prefix=st.binary(max_size=200),  # a self-extracting archive's stub
)
def test_the_records_are_those_zipfile_reads(
    names: list[str], comment: bytes, entry_comment: bytes, prefix: bytes
) -> None:
    _agrees_with_zipfile(_zip(names, comment, entry_comment, prefix))


def test_a_comment_of_the_largest_size() -> None:
    _agrees_with_zipfile(_zip(["a", "b"], comment=b"PK\x05\x06" + bytes(0xFFFF - 4)))


def test_a_zip64_end_record() -> None:
    """Over 65,535 entries, the counts and size are in the zip64 record."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in range(70_000):
            zf.writestr(f"{n}", b"")
    data = buf.getvalue()
    assert b"PK\x06\x06" in data[-200:]
    _agrees_with_zipfile(data)


def test_what_zipfile_refuses_has_no_end() -> None:
    for data in (b"", b"PK\x05\x06", b"not a zip" * 100, _zip(["a"])[:-1]):
        with pytest.raises(zipfile.BadZipFile):
            zipfile.ZipFile(io.BytesIO(data))
        assert archive_end(data) is None
        assert too_many_entries(data, 0) is None


def test_a_directory_is_counted_whatever_its_end_record_declares() -> None:
    data = lying_directory(500, declared=1)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert len(zf.infolist()) == 500  # `zipfile` goes by the size
    end = archive_end(data)
    assert end is not None and end.entries == 1
    assert count_entries(data, end, 10_000) == 500
    assert count_entries(data, end, 11) == 11
    assert too_many_entries(data, 500) is None
    reason = too_many_entries(data, 499)
    assert reason is not None and "over 499 zip entries" in reason and "declares 1" in reason


def test_long_names_leave_a_large_directory_within_the_cap() -> None:
    """A directory larger than the cap's worth of minimal entries is walked, not refused."""
    names = [f"{n:04}-" + "x" * 200 for n in range(50)]
    data = _zip(names)
    end = archive_end(data)
    assert end is not None and end.directory_bytes > 60 * ENTRY_BYTES
    assert too_many_entries(data, 60) is None
    assert too_many_entries(data, 49) == "50 zip entries, over the limit 49"
