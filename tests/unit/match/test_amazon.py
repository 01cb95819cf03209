"""Amazon Linux images (rpm sqlite for 2023, BDB for 2) matched by binary package against ALAS,
and a Bottlerocket inventory against BRSA.

Each image is catalogued the way a scan does it (release detection, the rpm cataloger on the
database rpm wrote); the expected verdicts come from the raw updateinfo files, read here with a
regular expression, and rpm's own `rpm.labelCompare` (python3-rpm under the system Python).
"""

from __future__ import annotations

import gzip
import re
from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.bottlerocket.cataloger import CATALOGER, INVENTORY
from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.distro import detect
from dockwatch.catalog.rpm.cataloger import RpmCataloger
from dockwatch.clock import ControlledClock
from dockwatch.distros import Supported, Unsupported, UnsupportedReason, lookup
from dockwatch.feeds.amazon import AmazonFeed, BottlerocketFeed
from dockwatch.feeds.feed import Fetched
from dockwatch.findings.build import build
from dockwatch.match.matcher import MatchReport
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders import amazon as al
from tests.unit.versions.rpm_corpus import label_compare, rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "amazon"
FILES = (DATA / "al2023-updateinfo.xml.gz", DATA / "al2-updateinfo.xml.gz")
TODAY = date(2026, 12, 5)
BEFORE_AL2_EOL = date(2026, 1, 15)

Image = tuple[list[Package], Distro | None]

pytestmark = [
    pytest.mark.skipif(not al.rpm_tools_available(), reason="rpm tools are not installed"),
    pytest.mark.skipif(not rpm_oracle_available(), reason="python3-rpm is not installed"),
]

AL2023_RPMS: list[al.Rpm] = [
    ("rsyslog", None, "8.2204.0", "3.amzn2023.0.1"),  # before ALAS2023-2023-001's fix
    # upstream 8.2204.0 is affected by CVE-2022-24903 (fixed upstream in 8.2204.1); Amazon's
    # release 3.amzn2023.0.2 carries the fix: the backport, no finding
    ("rsyslog-openssl", None, "8.2204.0", "3.amzn2023.0.2"),
    ("bash", None, "5.2.15", "1.amzn2023.0.2"),  # no advisory
]
AL2_RPMS: list[al.Rpm] = [
    ("qemu-kvm", 10, "1.5.3", "141.amzn2.5.2"),  # one release short of the fix
    ("qemu-img", None, "1.5.3", "141.amzn2.5.4"),  # newer release, but epoch 0 < 10
    ("java-1.8.0-openjdk-headless", 1, "1.8.0.161", "0.b14.amzn2"),  # exactly the fix
    ("kernel", None, "4.9.75", "25.55.amzn2"),
]


def _raw_fixes(path: Path) -> dict[str, dict[str, list[str]]]:
    """update id -> binary name -> fixed EVRs, read from the file with regular expressions."""
    text = gzip.decompress(path.read_bytes()).decode()
    out: dict[str, dict[str, list[str]]] = {}
    for body in re.findall(r"<update .*?</update>", text, re.S):
        uid = re.search(r"<id>([^<]+)</id>", body)
        assert uid is not None
        for attrs in re.findall(r"<package ([^>]*)>", body):
            a = dict(re.findall(r'(\w+)="([^"]*)"', attrs))
            evr = f"{a['epoch']}:{a['version']}-{a['release']}"
            out.setdefault(uid.group(1), {}).setdefault(a["name"], []).append(evr)
    return out


def _evr(rpm: al.Rpm) -> str:
    name, epoch, version, release = rpm
    return f"{epoch or 0}:{version}-{release}"


def _oracle(path: Path, rpms: list[al.Rpm]) -> dict[tuple[str, str], str]:
    """(advisory id, binary) -> fixed EVR, for installed packages rpm orders before a fix."""
    pairs: list[tuple[str, str]] = []
    keys: list[tuple[str, str, str]] = []
    for uid, names in _raw_fixes(path).items():
        for rpm in rpms:
            for fixed in names.get(rpm[0], ()):
                pairs.append((_evr(rpm), fixed))
                keys.append((uid, rpm[0], fixed))
    verdicts = label_compare(pairs) if pairs else []
    return {
        (uid, name): fixed for (uid, name, fixed), v in zip(keys, verdicts, strict=True) if v < 0
    }


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    items = AmazonFeed().parse(Fetched.local("amazon", *FILES))
    VulnDb(store, ControlledClock()).apply("amazon", [a for a in items if isinstance(a, Advisory)])
    return MatchIndex(store)


def _image(files: dict[str, bytes]) -> Image:
    entries = {p: FileEntry(p, len(d), 0o644, d) for p, d in files.items()}
    distro = detect(entries)
    result = RpmCataloger().catalog(LayerFiles(entries), ParseEnv(distro, LayerFiles()))
    assert result.skipped == ()
    return list(result.packages), distro


@pytest.fixture(scope="module")
def al2023_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    db = al.rpmdb_sqlite(AL2023_RPMS, tmp_path_factory.mktemp("al2023"))
    return _image(
        {"/etc/os-release": al.AL2023_OS_RELEASE.encode(), "/var/lib/rpm/rpmdb.sqlite": db}
    )


@pytest.fixture(scope="module")
def al2_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    work = tmp_path_factory.mktemp("al2")
    packages = al.rpmdb_bdb(al.rpmdb_sqlite(AL2_RPMS, work / "build"), work)
    return _image(
        {"/etc/os-release": al.AL2_OS_RELEASE.encode(), "/var/lib/rpm/Packages": packages}
    )


def _verdicts(report: MatchReport) -> dict[tuple[str, str], str | None]:
    return {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}


def _same_fixes(got: dict[tuple[str, str], str | None], want: dict[tuple[str, str], str]) -> None:
    assert set(got) == set(want)
    keys = sorted(want)
    pairs = [(str(got[k]), want[k]) for k in keys]
    assert label_compare(pairs) == [0] * len(pairs)  # the same EVR as the vendor's, in rpm's eyes


def test_al2023_sqlite_image(index: MatchIndex, al2023_image: Image) -> None:
    packages, distro = al2023_image
    report = match(packages, distro, index, today=TODAY)
    assert report.unsupported_os is None and report.os_ecosystem == "Amazon Linux:2023"
    want = _oracle(FILES[0], AL2023_RPMS)
    assert set(want) == {("ALAS2023-2023-001", "rsyslog")}  # not rsyslog-openssl: backported
    _same_fixes(_verdicts(report), want)
    assert {m.evidence.searched_by for m in report.matches} == {"binary package"}


def test_an_erratum_is_a_finding_per_cve(index: MatchIndex, al2023_image: Image) -> None:
    packages, distro = al2023_image
    report = match(packages, distro, index, today=TODAY)
    with index.store.read() as uow:
        contents = uow.vulns.advisory_contents([("amazon", "ALAS2023-2023-001")])
    drafts = build(report.matches, contents, {})
    assert set(drafts) == {"CVE-2014-3634", "CVE-2022-24903"}
    for draft in drafts.values():
        assert draft.detail.related_vulnerabilities == ("ALAS2023-2023-001",)
        assert draft.severity == "HIGH"  # Amazon's "Important"
        assert draft.detail.vendor_severity == "important"
        (pkg,) = draft.detail.packages
        assert (pkg.name, pkg.fixed_in_version) == ("rsyslog", "8.2204.0-3.amzn2023.0.2")
        assert draft.detail.evidence[0].advisory == "amazon/ALAS2023-2023-001"


def test_al2_bdb_image_before_end_of_life(index: MatchIndex, al2_image: Image) -> None:
    packages, distro = al2_image
    report = match(packages, distro, index, today=BEFORE_AL2_EOL)
    assert report.os_ecosystem == "Amazon Linux:2"
    want = _oracle(FILES[1], AL2_RPMS)
    assert set(want) == {
        ("ALAS2-2018-942", "qemu-kvm"),
        ("ALAS2-2018-942", "qemu-img"),  # the epoch decides
        ("ALAS2-2018-939", "kernel"),
    }
    _same_fixes(_verdicts(report), want)


def test_al2_is_past_end_of_life(index: MatchIndex, al2_image: Image) -> None:
    packages, distro = al2_image
    report = match(packages, distro, index, today=TODAY)
    assert report.matches == ()
    assert report.unsupported_os == "Amazon Linux 2 reached end of life on 2026-06-30"


BOTTLEROCKET_RPMS: list[al.Rpm] = [
    ("glibc", 1, "2.43", "1.1771000000.0a1b2c3d.br1"),  # built before BRSA-kdg8bd1th2gb's fix
    ("kernel-6.1", None, "6.1.140", "1.1749663821.e27d1b03.br1"),  # the fixed build itself
    ("systemd", None, "252.22", "1.1711409383.c9fb7f9e.br1"),  # no advisory
]


def test_bottlerocket_inventory_matches_brsa(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    source = DATA / "bottlerocket-updateinfo.xml.gz"
    items = BottlerocketFeed().parse_file(source)
    VulnDb(store, ControlledClock()).apply(
        "bottlerocket", [a for a in items if isinstance(a, Advisory)]
    )
    data = al.bottlerocket_inventory(BOTTLEROCKET_RPMS)
    os_release = al.BOTTLEROCKET_OS_RELEASE.encode()
    files = LayerFiles(
        {
            INVENTORY: FileEntry(INVENTORY, len(data), 0o644, data),
            "/etc/os-release": FileEntry("/etc/os-release", len(os_release), 0o644, os_release),
        }
    )
    distro = detect(files.files)
    packages = list(CATALOGER.catalog(files, ParseEnv(distro, files)).packages)
    report = match(packages, distro, MatchIndex(store), today=TODAY)
    assert report.unsupported_os is None and report.os_ecosystem == "Bottlerocket"
    want = _oracle(source, BOTTLEROCKET_RPMS)
    assert set(want) == {("BRSA-kdg8bd1th2gb", "glibc")}
    _same_fixes(_verdicts(report), want)


@pytest.mark.parametrize(
    ("os_id", "version_id", "expected"),
    [
        ("amzn", "2023", "Amazon Linux:2023"),
        ("amzn", "2", "Amazon Linux:2"),  # before its end of life (checked below at TODAY)
        ("bottlerocket", "1.19.2", "Bottlerocket"),
        ("bottlerocket", "1.40.0", "Bottlerocket"),  # one advisory stream for every version
    ],
)
def test_release_table(os_id: str, version_id: str, expected: str) -> None:
    got = lookup(os_id, version_id, today=BEFORE_AL2_EOL)
    assert isinstance(got, Supported) and got.release.ecosystem == expected


def test_amazon_linux_ami_is_past_end_of_life() -> None:
    files = {"/etc/system-release": al.AL1_SYSTEM_RELEASE.encode()}
    distro = detect({p: FileEntry(p, len(d), 0o644, d) for p, d in files.items()})
    assert distro is not None and (distro.id, distro.version_id) == ("amzn", "2018.03")
    for version in ("2018.03", "2017.09"):
        got = lookup("amzn", version, today=TODAY)
        assert isinstance(got, Unsupported) and got.reason is UnsupportedReason.END_OF_LIFE
        assert got.detail == "Amazon Linux AMI 2018.03 reached end of life on 2023-12-31"
    preview = lookup("amzn", "2022", today=TODAY)  # the AL2022 preview was never a release
    assert isinstance(preview, Unsupported) and preview.reason is UnsupportedReason.UNKNOWN_RELEASE
