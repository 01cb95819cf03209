"""SUSE and openSUSE images matched by binary rpm against SUSE's own records.

Each image is built here in its release's real package database format: rpms built with
`rpmbuild` (a source package with a differently named binary, as SUSE ships `compat-openssl098`
as `libopenssl0_9_8`), registered with `rpm --justdb`, written as the Berkeley DB hash
`/var/lib/rpm/Packages` that SLE 12 and Leap 15.0 use, next to the release's real os-release.
The expected findings are computed from the raw record files (not the parser) with
`rpm.labelCompare` (python3-rpm): an entry applies when its published product is of the image's
release (SLE 12 modules published without a service pack apply to every one), and the
installed binary rpm sorts before the fix.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import LayerFiles, ParseEnv
from dockwatch.catalog.distro import detect
from dockwatch.catalog.rpm.cataloger import RpmCataloger
from dockwatch.catalog.rpm.rpmdb import bdb_blobs
from dockwatch.clock import ControlledClock
from dockwatch.feeds.feed import Fetched
from dockwatch.feeds.suse import SuseFeed
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.catalog import FileEntry
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders import os_release as osr
from tests.unit.catalog.rpm.test_rpm import write_ndb
from tests.unit.versions.rpm_corpus import label_compare, rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "suse" / "osv"

pytestmark = [
    pytest.mark.skipif(
        shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt: rpm)"
    ),
    pytest.mark.skipif(
        shutil.which("db5.3_load") is None, reason="db5.3_load not installed (apt: db5.3-util)"
    ),
]

SLES_12_SP5 = osr.SLES_12_SP5.encode()
LEAP_15_0 = osr.LEAP_15_0.encode()
SLES_15_SP5 = osr.SLES_15_SP5.encode()

SPEC = """Name: {source}
Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
%package -n {binary}
Summary: fixture
%description -n {binary}
fixture
%install
mkdir -p %{{buildroot}}/usr/share/{binary}-{release}
echo hi > %{{buildroot}}/usr/share/{binary}-{release}/a.txt
%files -n {binary}
/usr/share/{binary}-{release}/a.txt
"""

# (source rpm, binary rpm, version, release)
OPENSSL_OLD = ("compat-openssl098", "libopenssl0_9_8", "0.9.8j", "106.9.1")
# SUSE's backport: upstream OpenSSL 0.9.8j is affected by CVE-2019-1559 (fixed upstream only in
# 1.0.2r); SUSE's 0.9.8j-106.12.1 carries the fix.
OPENSSL_FIXED = ("compat-openssl098", "libopenssl0_9_8", "0.9.8j", "106.12.1")
GLIBC_FIXED = ("glibc", "glibc-locale", "2.26", "lp150.11.3.2")  # glibc 2.26 < 2.28 upstream
NSCD_OLD = ("glibc", "nscd", "2.26", "lp150.9.1")


def _oracle(release: str, installed: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(record id, binary) -> fixed version, from the raw record files and rpm.labelCompare."""
    candidates: list[tuple[str, str, str, str]] = []
    for path in sorted(DATA.glob("*.json")):
        rec = json.loads(path.read_text())
        for a in rec["affected"]:
            product, name = a["package"]["ecosystem"], a["package"]["name"]
            fixed = next(e["fixed"] for r in a["ranges"] for e in r["events"] if "fixed" in e)
            if " SP" in release:  # SUSE Linux Enterprise
                applies = product.startswith("SUSE:") and (
                    product.endswith(f" {release}")
                    or (
                        release.startswith("12 ")
                        and product.startswith("SUSE:Linux Enterprise Module")
                        and product.endswith(" 12")
                    )
                )
            else:
                applies = product == f"openSUSE:Leap {release}"
            for binary, version in installed:
                if applies and name == binary:
                    candidates.append((rec["id"], binary, version, fixed))
    verdicts = label_compare([(v, f) for _i, _b, v, f in candidates])
    return {(i, b): f for (i, b, _v, f), cmp in zip(candidates, verdicts, strict=True) if cmp < 0}


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str, str], Path]:
    top = tmp_path_factory.mktemp("rpmbuild")
    out: dict[tuple[str, str, str, str], Path] = {}
    for pkg in (OPENSSL_OLD, OPENSSL_FIXED, GLIBC_FIXED, NSCD_OLD):
        source, binary, version, release = pkg
        spec = top / f"{binary}-{release}.spec"
        spec.write_text(SPEC.format(source=source, binary=binary, version=version, release=release))
        cmd = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)]
        subprocess.run(cmd, check=True, capture_output=True)
        (out[pkg],) = (top / "RPMS").rglob(f"{binary}-{version}-{release}.*.rpm")
    return out


def _bdb_packages(rpm_files: list[Path], work: Path) -> bytes:
    """A Berkeley DB hash `Packages` holding the rpms' headers, as rpm 4.14 writes it."""
    db = work / "db"
    db.mkdir()
    subprocess.run(
        ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *map(str, rpm_files)],
        check=True,
        capture_output=True,
    )
    conn = sqlite3.connect(db / "rpmdb.sqlite")
    try:
        blobs = [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for number, blob in enumerate(blobs, 1):
        dump += [" " + struct.pack("<I", number).hex(), " " + blob.hex()]
    dump.append("DATA=END")
    out = work / "Packages"
    subprocess.run(
        ["db5.3_load", "-f", "/dev/stdin", str(out)], input="\n".join(dump) + "\n", text=True
    ).check_returncode()
    return out.read_bytes()


def _image(
    os_release: bytes, rpm_files: list[Path], work: Path, *, ndb: bool = False
) -> tuple[Distro | None, list[Package]]:
    """(distro, packages) of an image with this os-release and rpm database: Berkeley DB at
    `/var/lib/rpm/Packages`, or NDB at `/usr/lib/sysimage/rpm/Packages.db` (SLE 15 SP3 on)."""
    db = _bdb_packages(rpm_files, work)
    db_path = "/var/lib/rpm/Packages"
    if ndb:
        db, db_path = write_ndb(list(bdb_blobs(db))), "/usr/lib/sysimage/rpm/Packages.db"
    files = {
        "/usr/lib/os-release": FileEntry("/usr/lib/os-release", len(os_release), 0o644, os_release),
        "/etc/os-release": FileEntry(
            "/etc/os-release", 0, 0o777, link_target="../usr/lib/os-release"
        ),
        db_path: FileEntry(db_path, len(db), 0o644, db),
    }
    distro = detect(files)
    result = RpmCataloger().catalog(LayerFiles(files), ParseEnv(distro, LayerFiles()))
    assert not result.skipped
    return distro, list(result.packages)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    vdb = VulnDb(store, ControlledClock())
    for source in ("osv:SUSE", "osv:openSUSE"):
        items = SuseFeed().parse(Fetched.local(source, DATA))
        advisories = [a for a in items if isinstance(a, Advisory)]
        family = source.split(":")[1] + ":"
        vdb.apply(source, [a for a in advisories if a.affected[0].ecosystem.startswith(family)])
    return MatchIndex(store)


CASES = [
    # SLES 12 SP5: the fix is published for the Legacy Software Module 12 (every service pack)
    ("12 SP5", SLES_12_SP5, [OPENSSL_OLD], date(2026, 12, 5)),
    ("12 SP5", SLES_12_SP5, [OPENSSL_FIXED], date(2026, 12, 5)),  # the backport: no finding
    # Leap 15.0, scanned while it was maintained: glibc's backport fixed, nscd not yet updated
    ("15.0", LEAP_15_0, [GLIBC_FIXED, NSCD_OLD], date(2019, 6, 30)),
    # SLES 15 SP5 (NDB database): the 2019 update names no SLE 15 product, so nothing applies
    ("15 SP5", SLES_15_SP5, [OPENSSL_OLD], date(2026, 12, 5)),
]


@pytest.mark.parametrize(("release", "os_release", "installed", "today"), CASES)
def test_findings_agree_with_rpm_label_compare(
    index: MatchIndex,
    rpms: dict[tuple[str, str, str, str], Path],
    tmp_path: Path,
    release: str,
    os_release: bytes,
    installed: list[tuple[str, str, str, str]],
    today: date,
) -> None:
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    ndb = release.startswith("15 SP")
    distro, packages = _image(os_release, [rpms[p] for p in installed], tmp_path, ndb=ndb)
    assert {p.name for p in packages} == {b for _s, b, _v, _r in installed}
    report = match(packages, distro, index, today=today)
    assert report.unsupported_os is None
    got = {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}
    expected = _oracle(release, [(b, f"{v}-{r}") for _s, b, v, r in installed])
    assert got == expected
    for m in report.matches:
        assert m.evidence.searched_by == "binary package"
        assert m.package.source_name not in (None, m.package.name)


def test_the_cases_the_oracle_covers() -> None:
    """The oracle is not vacuous: a fix through a module, a backport, one of two binaries."""
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    assert _oracle("12 SP5", [("libopenssl0_9_8", "0.9.8j-106.9.1")]) == {
        ("SUSE-SU-2019:1608-1", "libopenssl0_9_8"): "0.9.8j-106.12.1"
    }
    assert _oracle("12 SP5", [("libopenssl0_9_8", "0.9.8j-106.12.1")]) == {}
    leap = [("glibc-locale", "2.26-lp150.11.3.2"), ("nscd", "2.26-lp150.9.1")]
    assert _oracle("15.0", leap) == {("openSUSE-SU-2018:1633-1", "nscd"): "2.26-lp150.11.3.2"}


def test_end_of_life_leap_is_unsupported(
    index: MatchIndex, rpms: dict[tuple[str, str, str, str], Path], tmp_path: Path
) -> None:
    distro, packages = _image(LEAP_15_0, [rpms[NSCD_OLD]], tmp_path)
    report = match(packages, distro, index, today=date(2026, 12, 5))
    assert report.unsupported_os == "openSUSE Leap 15.0 reached end of life on 2019-12-03"
    assert report.matches == ()
