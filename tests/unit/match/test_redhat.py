"""RHEL images matched against Red Hat's VEX records, end to end below the server: a real rpm
database (rpmbuild + `rpm --justdb`: sqlite for RHEL 9 and 10, BDB hash for 7 and 8 loaded with
db5.3_load) and real os-release text, read by the cataloguer, matched against the fixtures.

The expected findings come from the records' facts (tests/data/feeds/redhat/README.md: the
main-stream fixed build of each package), compared with rpm's own `rpm.labelCompare`
(python3-rpm under the system Python), not from the parser.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.distro import detect
from dockwatch.catalog.rpm.cataloger import RpmCataloger
from dockwatch.clock import ControlledClock
from dockwatch.feeds.redhat import parse_path
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders.rpmdb import bdb_packages
from tests.unit.versions.rpm_corpus import label_compare, rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "redhat"
TODAY = date(2026, 12, 5)

pytestmark = [
    pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild not installed (rpm)"),
    pytest.mark.skipif(shutil.which("db5.3_load") is None, reason="db5.3_load not installed"),
]

OS_RELEASE = {
    "7": 'NAME="Red Hat Enterprise Linux Server"\nVERSION="7.9 (Maipo)"\nID="rhel"\n'
    'ID_LIKE="fedora"\nVARIANT="Server"\nVARIANT_ID="server"\nVERSION_ID="7.9"\n'
    'PRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"\nANSI_COLOR="0;31"\n'
    'CPE_NAME="cpe:/o:redhat:enterprise_linux:7.9:GA:server"\n'
    'HOME_URL="https://www.redhat.com/"\nBUG_REPORT_URL="https://bugzilla.redhat.com/"\n',
    "8": 'NAME="Red Hat Enterprise Linux"\nVERSION="8.8 (Ootpa)"\nID="rhel"\n'
    'ID_LIKE="fedora"\nVERSION_ID="8.8"\nPLATFORM_ID="platform:el8"\n'
    'PRETTY_NAME="Red Hat Enterprise Linux 8.8 (Ootpa)"\nANSI_COLOR="0;31"\n'
    'CPE_NAME="cpe:/o:redhat:enterprise_linux:8::baseos"\n'
    'HOME_URL="https://www.redhat.com/"\nBUG_REPORT_URL="https://bugzilla.redhat.com/"\n',
    "9": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\n'
    'ID_LIKE="fedora"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n'
    'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\nANSI_COLOR="0;31"\n'
    'LOGO="fedora-logo-icon"\nCPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"\n'
    'HOME_URL="https://www.redhat.com/"\nBUG_REPORT_URL="https://bugzilla.redhat.com/"\n',
    "10": 'NAME="Red Hat Enterprise Linux"\nVERSION="10.0 (Coughlan)"\nID="rhel"\n'
    'ID_LIKE="centos fedora"\nVERSION_ID="10.0"\nPLATFORM_ID="platform:el10"\n'
    'PRETTY_NAME="Red Hat Enterprise Linux 10.0 (Coughlan)"\nANSI_COLOR="0;31"\n'
    'CPE_NAME="cpe:/o:redhat:enterprise_linux:10.0"\n'
    'HOME_URL="https://www.redhat.com/"\nBUG_REPORT_URL="https://issues.redhat.com/"\n',
}


@dataclass(frozen=True)
class Build:
    """One source rpm and the binary it builds, with the record's facts about it."""

    source: str
    epoch: int | None
    version: str
    release: str
    binary: str
    cve: str
    fixed: str | None
    """The main-stream fixed build the record names (None: no fix, "Will not fix")."""
    binary_version: str | None = None
    module: str | None = None


RUBY27 = "ruby:2.7:8070020220729105127:63b34585"
IMAGES: dict[str, list[Build]] = {
    "9": [
        # vulnerable: RHSA-2024:6163 fixed python3.9 in 3.9.18-3.el9_4.5 (source route)
        Build("python3.9", None, "3.9.18", "3.el9_4", "python3-libs", "CVE-2024-8088",
              "3.9.18-3.el9_4.5"),
        # the backport: upstream BIND 9.16.23 is affected, Red Hat's 9.16.23-5.el9_1 is fixed
        Build("bind", 32, "9.16.23", "5.el9_1", "bind-libs", "CVE-2021-25220",
              "32:9.16.23-5.el9_1"),
        Build("dhcp", 12, "4.4.2", "16.b1.el9", "dhcp-client", "CVE-2021-25220",
              "12:4.4.2-17.b1.el9"),
        # not affected on RHEL 9
        Build("wireshark", 1, "3.4.10", "7.el9", "wireshark-cli", "CVE-2024-0208", "0"),
    ],
    "10": [Build("tar", 2, "1.54", "1.el10", "tar", "CVE-2005-2541", None)],
    "8": [
        # module ruby:2.7 below its stream's fix, though above ruby:2.5's fix 2.5.9-111
        Build("ruby", None, "2.7.6", "138.module+el8.7.0+17412+2a7e7f89", "ruby-libs",
              "CVE-2023-28755", "2.7.8-139.module+el8.8.0+18745+f1bef313", module=RUBY27),
        # a binary with its own version: matched by its name and version
        Build("ruby", None, "2.7.6", "138.module+el8.7.0+17412+2a7e7f89", "rubygem-rake",
              "CVE-2023-28755", "13.0.1-139.module+el8.8.0+18745+f1bef313",
              binary_version="13.0.1", module=RUBY27),
        # an 8.6 EUS build: the main stream's fix is 9.11.36-5.el8, so still affected
        Build("bind", 32, "9.11.36", "3.el8_6.7", "bind-libs", "CVE-2021-25220",
              "32:9.11.36-5.el8"),
    ],
    "7": [
        Build("bind", 32, "9.11.4", "26.P2.el7_9.13", "bind-libs", "CVE-2021-25220",
              "32:9.11.4-26.P2.el7_9.13"),
        Build("bind", 32, "9.11.4", "26.P2.el7_9.9", "bind-utils", "CVE-2021-25220",
              "32:9.11.4-26.P2.el7_9.13"),
    ],
}  # fmt: skip

SPEC = """Name: {source}
{epoch}Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
%package -n {binary}
Summary: fixture
{binary_version}%description -n {binary}
fixture
%files -n {binary}
"""


MAIN_SPEC = """Name: {source}
{epoch}Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
%files
"""


def _evr(b: Build) -> str:
    version = f"{b.binary_version or b.version}-{b.release}"
    return f"{b.epoch}:{version}" if b.epoch else version


def _rpmdb(top: Path, builds: list[Build]) -> Path:
    db = top / "db"
    db.mkdir()
    rpms: list[str] = []
    for i, b in enumerate(builds):
        spec = top / f"{i}.spec"
        text = SPEC if b.binary != b.source else MAIN_SPEC
        spec.write_text(
            text.format(
                source=b.source,
                epoch=f"Epoch: {b.epoch}\n" if b.epoch else "",
                version=b.version,
                release=b.release,
                binary=b.binary,
                binary_version=f"Version: {b.binary_version}\n" if b.binary_version else "",
            )
        )
        out = top / f"rpms{i}"
        cmd = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}"]
        cmd += ["--define", f"_rpmdir {out}"]
        if b.module:
            cmd += ["--define", f"modularitylabel {b.module}"]
        subprocess.run([*cmd, str(spec)], check=True, capture_output=True)
        rpms += sorted(str(p) for p in out.rglob("*.rpm"))
    subprocess.run(
        ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *rpms],
        check=True,
        capture_output=True,
    )
    return db / "rpmdb.sqlite"


@dataclass(frozen=True)
class Image:
    packages: tuple[Package, ...]
    files: LayerFiles


def _image(top: Path, major: str) -> Image:
    sqlite_db = _rpmdb(top, IMAGES[major])
    if major in ("7", "8"):
        path, data = "/var/lib/rpm/Packages", bdb_packages(sqlite_db.parent, top / "Packages")
    else:
        path, data = "/var/lib/rpm/rpmdb.sqlite", sqlite_db.read_bytes()
    osr = OS_RELEASE[major].encode()
    files = LayerFiles(
        {
            path: FileEntry(path, len(data), 0o644, data),
            "/etc/os-release": FileEntry(
                "/etc/os-release", 0, 0o777, None, "../usr/lib/os-release"
            ),
            "/usr/lib/os-release": FileEntry("/usr/lib/os-release", len(osr), 0o644, osr),
        }
    )
    result = RpmCataloger().catalog(files, ParseEnv(detect(files.files), LayerFiles()))
    return Image(result.packages, files)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Image]:
    return {m: _image(tmp_path_factory.mktemp(f"rhel{m}"), m) for m in IMAGES}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    advisories = [a for a in parse_path(DATA) if isinstance(a, Advisory)]
    VulnDb(store, ControlledClock()).apply("redhat", advisories)
    return MatchIndex(store)


def _oracle(builds: list[Build]) -> dict[tuple[str, str], str | None]:
    """(CVE, binary) -> fix, for the builds rpm orders before their fix (or that have none)."""
    compared = [b for b in builds if b.fixed not in (None, "0")]
    order = label_compare([(_evr(b), str(b.fixed)) for b in compared]) if compared else []
    out: dict[tuple[str, str], str | None] = {
        (b.cve, b.binary): None for b in builds if b.fixed is None
    }
    for b, cmp in zip(compared, order, strict=True):
        if cmp < 0:
            out[(b.cve, b.binary)] = b.fixed
    return out


@pytest.mark.skipif(not rpm_oracle_available(), reason="python3-rpm is not installed")
@pytest.mark.parametrize("major", ["7", "8", "9", "10"])
def test_findings_agree_with_rpm(images: dict[str, Image], index: MatchIndex, major: str) -> None:
    image = images[major]
    distro = detect(image.files.files)
    assert distro is not None and distro.id == "rhel"
    today = date(2024, 6, 1) if major == "7" else TODAY  # RHEL 7 left maintenance 2024-06-30
    report = match(image.packages, distro, index, today=today)
    assert report.unsupported_os is None and report.os_ecosystem == f"Red Hat:{major}"
    got = {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}
    assert got == _oracle(IMAGES[major])


def test_the_cases_the_oracle_covers() -> None:
    """Not vacuous: a fix, the backport, a stream's lower build, a module stream, will-not-fix."""
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed")
    nine = _oracle(IMAGES["9"])
    assert nine == {
        ("CVE-2024-8088", "python3-libs"): "3.9.18-3.el9_4.5",
        ("CVE-2021-25220", "dhcp-client"): "12:4.4.2-17.b1.el9",
    }
    assert ("CVE-2021-25220", "bind-libs") not in nine  # upstream 9.16.23, fixed by Red Hat
    assert _oracle(IMAGES["10"]) == {("CVE-2005-2541", "tar"): None}
    assert len(_oracle(IMAGES["8"])) == 3
    assert _oracle(IMAGES["7"]) == {("CVE-2021-25220", "bind-utils"): "32:9.11.4-26.P2.el7_9.13"}


def test_routes_and_words(images: dict[str, Image], index: MatchIndex) -> None:
    report = match(images["8"].packages, detect(images["8"].files.files), index, today=TODAY)
    by = {m.package.name: m for m in report.matches}
    assert by["rubygem-rake"].evidence.searched_by == "binary package"
    assert by["rubygem-rake"].evidence.name == "ruby:2.7/rubygem-rake"
    assert by["ruby-libs"].evidence.name == "ruby:2.7/ruby"  # same version: by its source
    assert by["bind-libs"].evidence.searched_by == "source package"
    ten = match(images["10"].packages, detect(images["10"].files.files), index, today=TODAY)
    (tar,) = ten.matches
    assert (tar.status, tar.fixed_version) == ("wont_fix", None)


def test_end_of_life_rhel_7_still_reports_why(images: dict[str, Image], index: MatchIndex) -> None:
    report = match(images["7"].packages, detect(images["7"].files.files), index, today=TODAY)
    assert report.matches == ()
    assert report.unsupported_os == "Red Hat Enterprise Linux 7 reached end of life on 2024-06-30"
