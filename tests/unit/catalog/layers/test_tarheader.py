"""The fast tar header decoder against `tarfile`'s own, on headers `tarfile` writes in every
format and on mutations of them: the same attributes, or the same exception."""

from __future__ import annotations

import io
import tarfile
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.catalog.layers.tarheader import FastTarInfo

ATTRS = (
    "name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname", "uname",
    "gname", "devmajor", "devminor", "_sparse_structs",
)  # fmt: skip


def _members() -> list[tarfile.TarInfo]:
    out = []
    members: list[tuple[str, bytes, dict[str, Any]]] = [
        ("etc/os-release", tarfile.REGTYPE, {"size": 12}),
        ("usr/lib/" + "d" * 120 + "/METADATA", tarfile.REGTYPE, {"size": 3}),  # ustar prefix
        ("x/" + "long" * 80, tarfile.REGTYPE, {}),  # pax / GNU long name
        ("bin/sh", tarfile.SYMTYPE, {"linkname": "dash"}),
        ("bin/hard", tarfile.LNKTYPE, {"linkname": "bin/sh"}),
        ("var/lib/", tarfile.DIRTYPE, {}),
        ("dev/null", tarfile.CHRTYPE, {"devmajor": 1, "devminor": 3}),
        ("big", tarfile.REGTYPE, {"uid": 1 << 40, "size": 0}),  # base-256 under GNU
        ("ünïcode/ファイル", tarfile.REGTYPE, {"uname": "usér"}),
        ("fifo", tarfile.FIFOTYPE, {"mtime": 0, "mode": 0o7777}),
    ]
    for name, kind, extra in members:
        info = tarfile.TarInfo(name)
        info.type = kind
        for key, value in extra.items():
            setattr(info, key, value)
        out.append(info)
    return out


def _headers() -> list[bytes]:
    """Every 512-byte header block `tarfile` writes for the members, in each format."""
    blocks: list[bytes] = []
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        for info in _members():
            try:
                raw = info.tobuf(fmt, "utf-8", "surrogateescape")
            except ValueError:
                continue  # ustar cannot hold it
            blocks.extend(raw[i : i + 512] for i in range(0, len(raw), 512))
    return blocks


HEADERS = _headers()


def _decode(cls: type[tarfile.TarInfo], buf: bytes, errors: str) -> tuple[str, Any]:
    try:
        info = cls.frombuf(buf, "utf-8", errors)
    except Exception as exc:  # the oracle's exception is the expected one
        return "raised", (type(exc), str(exc))
    assert type(info) is cls
    return "decoded", {a: getattr(info, a, None) for a in ATTRS}


def test_every_written_header_decodes_as_tarfile_decodes_it() -> None:
    assert len(HEADERS) > 30
    for buf in HEADERS:
        for errors in ("surrogateescape", "strict"):
            assert _decode(FastTarInfo, buf, errors) == _decode(tarfile.TarInfo, buf, errors)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(HEADERS),
    st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
)
def test_mutated_headers_decode_or_fail_as_tarfile(
    buf: bytes, changes: list[tuple[int, int]], fix_checksum: bool
) -> None:
    mutated = bytearray(buf)
    for at, value in changes:
        mutated[at] = value
    if fix_checksum:  # reach the field decoding, not only the checksum refusal
        mutated[148:156] = b" " * 8
        mutated[148:156] = b"%06o\0 " % (sum(mutated) & 0o777777)
    for errors in ("surrogateescape", "strict"):
        expected = _decode(tarfile.TarInfo, bytes(mutated), errors)
        assert _decode(FastTarInfo, bytes(mutated), errors) == expected


def test_short_empty_and_end_blocks_raise_what_tarfile_raises() -> None:
    for buf in (b"", b"\0" * 100, b"\0" * 512, HEADERS[0][:300]):
        assert _decode(FastTarInfo, buf, "strict") == _decode(tarfile.TarInfo, buf, "strict")


def test_a_whole_archive_walks_the_same() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in _members():
            data = b"x" * info.size if info.isreg() else b""
            tf.addfile(info, io.BytesIO(data))
    for cls in (tarfile.TarInfo, FastTarInfo):
        out.seek(0)
        with tarfile.open(fileobj=out, mode="r:", tarinfo=cls) as tf:
            walked = [(m.name, m.type, m.size, m.uid, m.linkname, m.offset_data) for m in tf]
        if cls is tarfile.TarInfo:
            expected = walked
    assert walked == expected
    assert len(walked) == len(_members())
