"""Members read by positioned reads: exactly the bytes `zipfile` reads, or left to `zipfile`
(None) wherever it would complain or the member is not plain. `zipfile` is the oracle."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from dockwatch.feeds import zip_directory
from dockwatch.feeds.zip_members import MemberReader

CAP = 1 << 20


def _payloads(rng: random.Random) -> dict[str, bytes]:
    return {
        "empty.json": b"",
        "small.json": b'{"id": "GHSA-1"}',
        "text.json": b'{"details": "' + b"overflow in the parser " * 400 + b'"}',
        "noise.bin.json": rng.randbytes(5000),  # deflate makes it larger
        "dir/nested.json": b'{"id": "\xc3\xa9t\xc3\xa9"}',
        "caf\u00e9.json": b"{}",  # a UTF-8 name
    }


def _archive(path: Path, rng: random.Random, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in _payloads(rng).items():
            zf.writestr(name, data)
    return path


def _zipfile_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | Exception:
    try:
        with zf.open(info) as member:
            return member.read(CAP + 1)
    except Exception as exc:  # noqa: BLE001 - any complaint: the reader must not answer
        return exc


def _compare(path: Path) -> list[bytes | None]:
    """What the reader gives for every member, each checked against `zipfile`."""
    try:
        end = zip_directory.directory_end(path)
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return []
    got_all = []
    with zf:
        reader = MemberReader(str(path), zf.infolist(), end.directory_at)
        try:
            for info in zf.infolist():
                got = reader.read(info, CAP)
                if got is not None:
                    want = _zipfile_read(zf, info)
                    assert got == want, (path, info.filename)
                got_all.append(got)
        finally:
            reader.close()
    return got_all


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_plain_members_are_read_as_zipfile_reads_them(tmp_path: Path, method: int) -> None:
    rng = random.Random(1)
    got = _compare(_archive(tmp_path / "a.zip", rng, method))
    assert got == list(_payloads(random.Random(1)).values())


def _bytes(path: Path) -> bytearray:
    return bytearray(path.read_bytes())


def _first_data_at(data: bytes | bytearray) -> int:
    name_length, extra_length = struct.unpack_from("<HH", data, 26)
    return 30 + int(name_length) + int(extra_length)


def test_members_zipfile_would_complain_of_are_left_to_it(tmp_path: Path) -> None:
    rng = random.Random(2)
    plain = _archive(tmp_path / "plain.zip", rng, zipfile.ZIP_STORED)
    cases: dict[str, bytearray] = {}

    crc = _bytes(plain)  # the second member's stored bytes changed: its CRC no longer holds
    second = crc.find(b"PK\x03\x04", 4)
    crc[second + _first_data_at(crc[second:])] ^= 0xFF
    cases["bad CRC"] = crc

    name = _bytes(plain)  # the local header names another file
    name[second + 30] ^= 0x01
    cases["local name differs"] = name

    signature = _bytes(plain)
    signature[second + 2] = 0x07
    cases["no local header"] = signature

    encrypted = _bytes(plain)  # the encryption flag, in the local header and the directory
    directory = encrypted.find(b"PK\x01\x02")
    encrypted[6] |= 0x01
    encrypted[directory + 8] |= 0x01
    cases["encrypted"] = encrypted

    for label, data in cases.items():
        path = tmp_path / f"{label}.zip"
        path.write_bytes(bytes(data))
        got = _compare(path)
        damaged = {"bad CRC": 1, "local name differs": 1, "no local header": 1, "encrypted": 0}
        assert got[damaged[label]] is None, label
        assert sum(g is not None for g in got) == len(got) - 1, label


def _declare(data: bytearray, entry: int, crc: int, packed: int, size: int) -> None:
    """Give the `entry`-th directory entry of an archive this CRC and these sizes."""
    at = data.find(b"PK\x01\x02")
    for _ in range(entry):
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<3L", data, at + 16, crc, packed, size)


def test_overlapping_and_misdeclared_members_are_left_to_zipfile(tmp_path: Path) -> None:
    """A member whose bytes hold another member (a "better zip bomb"), a size that is not the
    data's, a deflate stream that does not end, and methods other than stored and deflated:
    never read here, whatever `zipfile` makes of them."""
    rng = random.Random(3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.json", b"A" * 300)
        zf.writestr("b.json", b"B" * 300)
        zf.writestr("c.json", rng.randbytes(300), compress_type=zipfile.ZIP_BZIP2)
    data = bytearray(buffer.getvalue())

    overlapped = bytearray(data)  # a's bytes declared to run on over b, up to c
    a_start, c_at = _first_data_at(data), data.find(b"PK\x03\x04", 4)
    c_at = data.find(b"PK\x03\x04", c_at + 4)
    span = bytes(data[a_start:c_at])
    _declare(overlapped, 0, zlib.crc32(span), len(span), len(span))
    (tmp_path / "overlap.zip").write_bytes(bytes(overlapped))
    assert _compare(tmp_path / "overlap.zip") == [None, b"B" * 300, None]

    buffer = io.BytesIO()  # a deflated member declared one byte larger than its data
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.json", b"A" * 300)
    larger = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(larger))).infolist()[0]
    _declare(larger, 0, info.CRC, info.compress_size, 301)
    (tmp_path / "size.zip").write_bytes(bytes(larger))
    assert _compare(tmp_path / "size.zip") == [None]

    buffer = io.BytesIO()  # a deflate stream flushed but never ended, declared correctly
    text = b'{"id": "GHSA-2"}' * 40
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    unended = deflate.compress(text) + deflate.flush(zlib.Z_SYNC_FLUSH)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("d.json", unended)
    data = bytearray(buffer.getvalue())
    data[8] = data[data.find(b"PK\x01\x02") + 10] = zipfile.ZIP_DEFLATED  # the method
    _declare(data, 0, zlib.crc32(text), len(unended), len(text))
    (tmp_path / "unended.zip").write_bytes(bytes(data))
    assert _compare(tmp_path / "unended.zip") == [None]


def test_mutated_archives_never_give_other_bytes_than_zipfile(tmp_path: Path) -> None:
    """Random bytes of real archives changed: wherever the reader answers, `zipfile` reads
    the same bytes without complaint; most members are still read."""
    rng = random.Random(4)
    bases = [
        _bytes(_archive(tmp_path / f"base{m}.zip", rng, m))
        for m in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)
    ]
    answered = 0
    for n in range(300):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"m{n}.zip"
        path.write_bytes(bytes(data))
        answered += sum(g is not None for g in _compare(path))
        os.unlink(path)
    assert answered > 300


def test_a_reader_dropped_unclosed_leaves_no_descriptor_open(tmp_path: Path) -> None:
    path = _archive(tmp_path / "a.zip", random.Random(5))
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("no /proc/self/fd to count descriptors by")
    before = len(list(fds.iterdir()))
    for _ in range(50):
        assert len([g for g in _compare_unclosed(path) if g is not None]) == len(
            _payloads(random.Random(5))
        )
    assert len(list(fds.iterdir())) <= before + 1


def _compare_unclosed(path: Path) -> list[bytes | None]:
    """`_compare`, but the reader dropped without `close`."""
    end = zip_directory.directory_end(path)
    with zipfile.ZipFile(path) as zf:
        reader = MemberReader(str(path), zf.infolist(), end.directory_at)
        return [reader.read(info, CAP) for info in zf.infolist()]
