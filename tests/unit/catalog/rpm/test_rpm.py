"""rpm: sqlite (rpmbuild + rpm --dbpath, oracle `rpm -qa`), BDB hash (real headers loaded with
db5.3_load), NDB (written here from rpm's documented layout), and corrupt databases."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.rpm.cataloger import RpmCataloger, split_sourcerpm
from dockwatch.catalog.rpm.header import HeaderCorrupt, parse_header
from dockwatch.catalog.rpm.rpmdb import RpmDbCorrupt, bdb_blobs, detect, header_blobs, ndb_blobs

needs_rpm = pytest.mark.skipif(
    shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt: rpm)"
)

SPEC = """Name: {name}
{epoch}Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo hi > %{{buildroot}}/usr/share/{name}/a.txt
echo ho > %{{buildroot}}/usr/share/{name}/b.jar
%files
/usr/share/{name}/a.txt
/usr/share/{name}/b.jar
"""

PACKAGES = [
    ("dw-alpha", "", "1.2.3", "4.el9", None),
    ("dw-beta", "Epoch: 2\n", "0.9", "1.module+el8.4.0+1", "perl:5.32:8040020210521:9f9e2e7e"),
    ("dw-gamma", "", "10.0~rc1", "7", None),
]


@pytest.fixture(scope="module")
def rpmdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("rpmbuild")
    db = top / "db"
    db.mkdir()
    for name, epoch, version, release, label in PACKAGES:
        spec = top / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, epoch=epoch, version=version, release=release))
        cmd = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)]
        if label:
            cmd[2:2] = ["--define", f"modularitylabel {label}"]
        subprocess.run(cmd, check=True, capture_output=True)
    rpms = sorted(str(p) for p in (top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *rpms],
        check=True,
        capture_output=True,
    )
    return db


def oracle(db: Path) -> set[tuple[str, ...]]:
    out = subprocess.run(
        [
            "rpm",
            "-qa",
            "--dbpath",
            str(db),
            "--qf",
            "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{MODULARITYLABEL}\n",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {tuple(line.split("|")) for line in out.splitlines()}


def ours(blobs: list[bytes]) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for blob in blobs:
        h = parse_header(blob)
        out.add(
            (
                h.name,
                str(h.epoch or 0),
                h.version,
                h.release,
                h.arch or "",
                h.sourcerpm or "",
                h.modularity_label or "(none)",
            )
        )
    return out


@needs_rpm
def test_sqlite_matches_rpm_qa(rpmdb_dir: Path) -> None:
    data = (rpmdb_dir / "rpmdb.sqlite").read_bytes()
    assert detect(data) == "sqlite"
    assert ours(list(header_blobs(data))) == oracle(rpmdb_dir)


@needs_rpm
def test_cataloger_packages_and_files(rpmdb_dir: Path) -> None:
    data = (rpmdb_dir / "rpmdb.sqlite").read_bytes()
    path = "/var/lib/rpm/rpmdb.sqlite"
    result = RpmCataloger().catalog(
        LayerFiles({path: FileEntry(path, len(data), 0o644, data)}), ParseEnv(None, LayerFiles())
    )
    by = {p.name: p for p in result.packages}
    assert by["dw-beta"].version == "2:0.9-1.module+el8.4.0+1" and by["dw-beta"].epoch == 2
    assert dict(by["dw-beta"].metadata)["modularitylabel"] == "perl:5.32:8040020210521:9f9e2e7e"
    assert by["dw-alpha"].source_name == "dw-alpha"
    assert dict(result.owned_files)["dw-gamma"] == (
        "/usr/share/dw-gamma/a.txt",
        "/usr/share/dw-gamma/b.jar",
    )


def _blobs_from_sqlite(db: Path) -> list[bytes]:
    conn = sqlite3.connect(db / "rpmdb.sqlite")
    try:
        return [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()


@needs_rpm
@pytest.mark.skipif(
    shutil.which("db5.3_load") is None, reason="db5.3_load not installed (apt: db5.3-util)"
)
@pytest.mark.parametrize("page_size", [512, 4096])
def test_bdb_hash_with_real_headers(rpmdb_dir: Path, tmp_path: Path, page_size: int) -> None:
    blobs = _blobs_from_sqlite(rpmdb_dir)
    # A larger blob spreads over several overflow pages; a tiny one may stay inline.
    dump = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={page_size}", "HEADER=END"]
    for number, blob in enumerate(blobs, 1):
        dump += [" " + struct.pack("<I", number).hex(), " " + blob.hex()]
    dump.append("DATA=END")
    out = tmp_path / "Packages"
    subprocess.run(
        ["db5.3_load", "-f", "/dev/stdin", str(out)],
        input="\n".join(dump) + "\n",
        text=True,
        check=True,
    )
    data = out.read_bytes()
    assert detect(data) == "bdb"
    assert sorted(bdb_blobs(data)) == sorted(blobs)
    assert ours(list(header_blobs(data))) == oracle(rpmdb_dir)


def write_ndb(blobs: list[bytes]) -> bytes:
    """Packages.db per rpm's lib/backend/ndb/rpmpkg.c: a 32-byte header and 16-byte slots on
    4096-byte slot pages, then blobs in 16-byte blocks (head, blob, zero pad, tail with adler32)."""
    page = bytearray(4096)
    struct.pack_into("<4sIIII", page, 0, b"RpmP", 0, 1, 1, len(blobs) + 1)
    for i in range(32, 4096, 16):
        struct.pack_into("<4s", page, i, b"Slot")
    body = bytearray()
    block = 4096 // 16
    for number, blob in enumerate(blobs, 1):
        count = (16 + len(blob) + 12 + 15) // 16
        head = struct.pack("<4sIII", b"BlbS", number, 1, len(blob))
        pad = bytes(count * 16 - 16 - len(blob) - 12)
        tail = struct.pack("<II4s", zlib.adler32(head + blob + pad), len(blob), b"BlbE")
        struct.pack_into(
            "<4sIII", page, 32 + 16 * (number - 1), b"Slot", number, block + len(body) // 16, count
        )
        body += head + blob + pad + tail
    return bytes(page + body)


@needs_rpm
def test_ndb(rpmdb_dir: Path) -> None:
    blobs = _blobs_from_sqlite(rpmdb_dir)
    data = write_ndb(blobs)
    assert detect(data) == "ndb"
    assert list(ndb_blobs(data)) == blobs
    assert ours(list(header_blobs(data))) == oracle(rpmdb_dir)


@needs_rpm
def test_corrupt_databases(rpmdb_dir: Path) -> None:
    blobs = _blobs_from_sqlite(rpmdb_dir)
    ndb = bytearray(write_ndb(blobs))
    ndb[4096 + 40] ^= 0xFF  # a byte inside the first blob: checksum mismatch
    with pytest.raises(RpmDbCorrupt):
        list(ndb_blobs(bytes(ndb)))
    sqlite_bytes = (rpmdb_dir / "rpmdb.sqlite").read_bytes()
    with pytest.raises(RpmDbCorrupt):
        list(header_blobs(sqlite_bytes[:100] + b"\xff" * 4000))
    with pytest.raises(RpmDbCorrupt):
        list(header_blobs(b"\0" * 10))
    with pytest.raises(HeaderCorrupt):
        parse_header(struct.pack(">II", 5000, 10) + b"\0" * 64)
    path = "/var/lib/rpm/Packages.db"
    result = RpmCataloger().catalog(
        LayerFiles({path: FileEntry(path, 0, 0o644, bytes(ndb))}), ParseEnv(None, LayerFiles())
    )
    assert result.skipped and "checksum" in result.skipped[0].reason


def test_split_sourcerpm() -> None:
    assert split_sourcerpm("openssl-3.0.7-25.el9.src.rpm") == ("openssl", "3.0.7-25.el9")
    assert split_sourcerpm(None) == (None, None)
