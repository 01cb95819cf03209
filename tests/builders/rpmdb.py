"""rpm databases built in code by rpm itself: `rpmbuild` makes empty noarch packages with the
names, versions and source rpms asked for, `rpm --justdb` installs them into a fresh sqlite
database (rpm >= 4.16), and `db5.3_load` writes the same headers as a Berkeley DB hash
`Packages` file (the format of rpm before 4.16: Oracle Linux 7 and 8)."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_rpmbuild = pytest.mark.skipif(
    shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt: rpm)"
)
needs_db_load = pytest.mark.skipif(
    shutil.which("db5.3_load") is None, reason="db5.3_load not installed (apt: db5.3-util)"
)


@dataclass(frozen=True, slots=True)
class Rpm:
    """One binary package to install."""

    name: str
    version: str
    release: str
    source: str | None = None
    """The source package (its spec's Name), when it differs from `name`."""
    epoch: int | None = None


_SPEC = """Name: {source}
{epoch}Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
{subpackage}
%files{files_of}
"""


def _spec(rpm: Rpm) -> str:
    source = rpm.source or rpm.name
    epoch = f"Epoch: {rpm.epoch}\n" if rpm.epoch is not None else ""
    if source == rpm.name:
        return _SPEC.format(
            source=source, epoch=epoch, version=rpm.version, release=rpm.release,
            subpackage="", files_of="",
        )  # fmt: skip
    sub = f"%package -n {rpm.name}\nSummary: fixture\n%description -n {rpm.name}\nfixture\n"
    return _SPEC.format(
        source=source, epoch=epoch, version=rpm.version, release=rpm.release,
        subpackage=sub, files_of=f" -n {rpm.name}",
    )  # fmt: skip


def build_rpmdb(top: Path, rpms: list[Rpm]) -> Path:
    """A directory holding `rpmdb.sqlite` with `rpms` installed."""
    db = top / "db"
    db.mkdir(parents=True)
    for i, rpm in enumerate(rpms):
        spec = top / f"{i}.spec"
        spec.write_text(_spec(rpm))
        subprocess.run(
            ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)],
            check=True,
            capture_output=True,
        )
    built = sorted(str(p) for p in (top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *built],
        check=True,
        capture_output=True,
    )
    return db


def bdb_packages(db: Path, out: Path) -> bytes:
    """The headers of `db`'s sqlite database as a Berkeley DB hash `Packages` file."""
    conn = sqlite3.connect(db / "rpmdb.sqlite")
    try:
        blobs = [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for number, blob in enumerate(blobs, 1):
        dump += [" " + struct.pack("<I", number).hex(), " " + blob.hex()]
    dump.append("DATA=END")
    subprocess.run(
        ["db5.3_load", "-f", "/dev/stdin", str(out)],
        input="\n".join(dump) + "\n",
        text=True,
        check=True,
    )
    return out.read_bytes()
