"""CBL-Mariner and Azure Linux images built in code (the distroless rpm manifest, rpm's BDB and
sqlite databases, the images' real os-release) matched against Microsoft's OVAL records.

Microsoft's OVAL names source packages (spec names), so the expected findings come from
`oval_oracle` evaluating each record on the image's source packages with rpm's `labelCompare`,
then naming every installed binary of a matched source; no dockwatch code is shared.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.service import catalog_image
from dockwatch.clock import ControlledClock
from dockwatch.feeds import azurelinux
from dockwatch.findings.build import build
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders import os_release
from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.builders.rpmdb import Rpm, bdb_packages, build_rpmdb, needs_db_load, needs_rpmbuild
from tests.unit.match.oval_oracle import System, evaluate
from tests.unit.versions.rpm_corpus import rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "azurelinux"
TODAY = date(2026, 12, 5)

pytestmark = pytest.mark.skipif(
    not rpm_oracle_available(), reason="python3-rpm missing (system Python)"
)

#: `/var/lib/rpmmanifest/container-manifest-2` of a distroless CBL-Mariner 2.0 image, as syft's
#: test fixture records it (anchore/syft syft/pkg/cataloger/redhat/test-fixtures/)
MARINER_2_MANIFEST = (
    "mariner-release\t2.0-12.cm2\t1653816591\t1653753130\tMicrosoft Corporation\t(none)\t580\t"
    "noarch\t0\tmariner-release-2.0-12.cm2.src.rpm\n"
    "filesystem\t1.1-9.cm2\t1653816591\t1653628924\tMicrosoft Corporation\t(none)\t7596\tx86_64\t"
    "0\tfilesystem-1.1-9.cm2.src.rpm\n"
    "glibc\t2.35-2.cm2\t1653816591\t1653628955\tMicrosoft Corporation\t(none)\t10855265\tx86_64\t"
    "0\tglibc-2.35-2.cm2.src.rpm\n"
    "openssl-libs\t1.1.1k-15.cm2\t1653816591\t1653631609\tMicrosoft Corporation\t(none)\t4365048\t"
    "x86_64\t0\topenssl-1.1.1k-15.cm2.src.rpm\n"
)
MARINER_1_OS_RELEASE = os_release.MARINER_2.replace("2.0", "1.0")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    vdb = VulnDb(store, ControlledClock())
    for path in sorted(DATA.glob("*.xml")):
        advisories = [a for a in azurelinux.parse_file(path) if isinstance(a, Advisory)]
        vdb.apply(advisories[0].source, advisories)
    return MatchIndex(store)


def _write(tmp: Path, files: dict[str, str | bytes]) -> str:
    layer = make_layer(files)
    write_oci_layout(tmp / "img", [make_image([layer])])
    return f"oci:{tmp / 'img'}:latest"


def _expected(
    fixture: str, release: str, binaries: list[tuple[str, str, str]]
) -> dict[tuple[str, str], str | None]:
    """(CVE, binary) -> fix, for (binary, source, version-release) installed."""
    sources = {source: version for _b, source, version in binaries}
    hits = evaluate(DATA / fixture, System(release, "x86_64", sources))
    return {
        (cve, binary): fix
        for (cve, source), fix in hits.items()
        for binary, src, _v in binaries
        if src == source
    }


def _found(inv_ref: str, index: MatchIndex, today: date) -> dict[tuple[str, str], str | None]:
    inv = catalog_image(inv_ref)
    report = match(inv.packages, inv.distro, index, today=today)
    assert report.unsupported_os is None
    assert all(m.evidence.searched_by == "source package" for m in report.matches)
    return {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}


def test_distroless_mariner_2_manifest(index: MatchIndex, tmp_path: Path) -> None:
    ref = _write(
        tmp_path,
        {
            "etc/os-release": os_release.MARINER_2,
            "var/lib/rpmmanifest/container-manifest-2": MARINER_2_MANIFEST,
        },
    )
    inv = catalog_image(ref)
    assert {(p.name, p.version, p.source_name) for p in inv.packages} == {
        ("mariner-release", "2.0-12.cm2", "mariner-release"),
        ("filesystem", "1.1-9.cm2", "filesystem"),
        ("glibc", "2.35-2.cm2", "glibc"),
        ("openssl-libs", "1.1.1k-15.cm2", "openssl"),
    }
    binaries = [(p.name, p.source_name or p.name, p.version) for p in inv.packages]
    expected = _expected("cbl-mariner-2.0-oval.xml", "2.0", binaries)
    assert expected == {("CVE-2023-5678", "openssl-libs"): "1.1.1k-28.cm2"}
    assert _found(ref, index, date(2025, 1, 15)) == expected  # while 2.0 was supported
    after = match(inv.packages, inv.distro, index, today=TODAY)  # 2.0 ended 2025-07-23
    assert after.unsupported_os is not None and "end of life" in after.unsupported_os
    assert after.matches == ()


@needs_rpmbuild
def test_azure_linux_3_sqlite_with_a_backport(index: MatchIndex, tmp_path: Path) -> None:
    rpms = [
        # openssl 3.3.0 upstream is affected by CVE-2024-5535; Microsoft's -2 build carries the fix
        Rpm("openssl-libs", "3.3.0", "2.azl3", source="openssl"),
        Rpm("curl", "8.7.1", "1.azl3"),
        Rpm("libcurl", "8.7.1", "1.azl3", source="curl"),
    ]
    db = build_rpmdb(tmp_path / "build", rpms)
    ref = _write(
        tmp_path,
        {
            "etc/os-release": os_release.AZURELINUX_3,
            "var/lib/rpm/rpmdb.sqlite": (db / "rpmdb.sqlite").read_bytes(),
        },
    )
    binaries = [(r.name, r.source or r.name, f"{r.version}-{r.release}") for r in rpms]
    expected = _expected("azurelinux-3.0-oval.xml", "3.0", binaries)
    assert expected == {
        ("CVE-2024-6874", "curl"): "8.8.0-1.azl3",
        ("CVE-2024-6874", "libcurl"): "8.8.0-1.azl3",
    }
    assert _found(ref, index, TODAY) == expected


@needs_rpmbuild
@needs_db_load
def test_mariner_1_bdb_fixed_and_unfixed(index: MatchIndex, tmp_path: Path) -> None:
    rpms = [Rpm("openssl", "1.1.1k", "15.cm1"), Rpm("syslinux", "6.04", "9.cm1")]
    db = build_rpmdb(tmp_path / "build", rpms)
    ref = _write(
        tmp_path,
        {
            "etc/os-release": MARINER_1_OS_RELEASE,
            "var/lib/rpm/Packages": bdb_packages(db, tmp_path / "Packages"),
        },
    )
    binaries = [(r.name, r.name, f"{r.version}-{r.release}") for r in rpms]
    expected = _expected("cbl-mariner-1.0-oval.xml", "1.0", binaries)
    assert expected == {
        ("CVE-2023-2650", "openssl"): "1.1.1k-16.cm1",
        ("CVE-2022-3857", "syslinux"): None,  # `patchable` false: affected, no fix
    }
    today = date(2023, 5, 1)  # 1.0 ended 2023-07-31
    assert _found(ref, index, today) == expected
    inv = catalog_image(ref)
    report = match(inv.packages, inv.distro, index, today=today)
    keys = {(m.source, m.advisory_id) for m in report.matches}
    with index.store.read() as uow:
        contents = uow.vulns.advisory_contents(keys)
    drafts = build(report.matches, contents, {})
    assert drafts["CVE-2022-3857"].fix_available == "NO"
    assert drafts["CVE-2022-3857"].severity == "MEDIUM"  # Microsoft's Medium
    assert drafts["CVE-2023-2650"].fix_available == "YES"
