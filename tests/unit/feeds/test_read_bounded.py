"""`fields.read_bounded` reads a whole file through its descriptor: the bytes `Path.read_bytes`
gives, and TooBig or OSError where a file is over its cap or cannot be read."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from dockwatch.feeds import fields as f


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 65_537, 1_500_000])
def test_a_file_under_its_cap_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(random.Random(size).randbytes(size))
    assert f.read_bounded(path, 2_000_000) == path.read_bytes()
    assert f.read_bounded(str(path), size) == path.read_bytes()  # exactly at the cap


def test_a_file_over_its_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(b"x" * 101)
    with pytest.raises(f.TooBig, match="101 bytes, over the 100 byte cap"):
        f.read_bounded(path, 100)


def test_what_cannot_be_read_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        f.read_bounded(tmp_path / "absent.json", 100)
    with pytest.raises(OSError):
        f.read_bounded(tmp_path, 100)  # a folder


def test_a_stream_longer_than_its_size_says_is_capped(tmp_path: Path) -> None:
    """A FIFO reports size 0 and goes on: reading stops past the cap."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as out:
            try:
                out.write(b"y" * 5000)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with pytest.raises(f.TooBig, match="over the 1000 byte cap"):
            f.read_bounded(fifo, 1000)
    finally:
        writer.join(timeout=10)


def test_a_regular_file_is_read_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short read of a regular file is its end: no second read only to find it again."""
    path = tmp_path / "r.json"
    path.write_bytes(b"z" * 3000)
    calls: list[int] = []
    real_read = os.read

    def counted(fd: int, n: int) -> bytes:
        calls.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", counted)
    assert f.read_bounded(path, 10_000) == b"z" * 3000
    assert calls == [3001]


def test_a_file_that_grew_after_its_size_was_taken_is_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.json"
    data = random.Random(7).randbytes(70_000)
    path.write_bytes(data)
    real_fstat = os.fstat

    def stale(fd: int) -> os.stat_result:  # the size as it was before the file grew
        fields = list(real_fstat(fd))
        fields[6] = 1000  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", stale)
    assert f.read_bounded(path, 100_000) == data
    with pytest.raises(f.TooBig, match="over the 50000 byte cap"):
        f.read_bounded(path, 50_000)


def test_a_stream_under_its_cap_is_read_whole(tmp_path: Path) -> None:
    """A FIFO reports size 0 and comes in pieces: every piece is read, to its end."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pieces = [bytes([65 + n]) * 700 for n in range(6)]

    def write() -> None:
        with open(fifo, "wb", buffering=0) as out:
            for piece in pieces:
                out.write(piece)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert f.read_bounded(fifo, 10_000) == b"".join(pieces)
    finally:
        writer.join(timeout=10)
