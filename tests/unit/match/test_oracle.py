"""Oracle Linux images built in code (rpm's own BDB database for 7 and 8, sqlite for 9, and the
images' real os-release) are catalogued, then matched against Oracle's ELSA OVAL records.

The expected findings come from `oval_oracle`, which evaluates the OVAL criteria on the image as
an OVAL interpreter would, with rpm's `labelCompare` (python3-rpm): it shares no code with the
feed, the version scheme or the matcher.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.service import catalog_image
from dockwatch.clock import ControlledClock
from dockwatch.feeds import oracle
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

DATA = Path(__file__).parents[2] / "data" / "feeds" / "oracle"
TODAY = date(2026, 12, 5)

pytestmark = [
    needs_rpmbuild,
    needs_db_load,
    pytest.mark.skipif(not rpm_oracle_available(), reason="python3-rpm missing (system Python)"),
]

#: (os-release, rpm database format, packages); versions of Oracle's own builds
IMAGES = {
    # sudo before ELSA-2019-4821 (binary and -devel subpackage)
    "ol7": (os_release.ORACLE_7, "bdb", [
        Rpm("sudo", "1.8.23", "4.el7"), Rpm("sudo-devel", "1.8.23", "4.el7", source="sudo"),
    ]),
    # the backport: upstream 1.8.23 is affected by CVE-2019-14287 (fixed upstream in 1.8.28);
    # Oracle's 1.8.23-4.0.1.el7 carries the fix
    "ol7-patched": (os_release.ORACLE_7, "bdb", [Rpm("sudo", "1.8.23", "4.0.1.el7")]),
    # bpftool of UEK7 before ELSA-2026-50294; the UEK6 kernel (5.4.17) is another stream
    "ol8": (os_release.ORACLE_8, "bdb", [
        Rpm("bpftool", "5.15.0", "321.202.1.el8uek", source="kernel-uek"),
        Rpm("kernel-uek", "5.4.17", "2136.324.5.3.el8uek"),
    ]),
    # bpftool before the fix; kernel-uek at Oracle's fixed build (upstream 5.15.0 "vulnerable")
    "ol9": (os_release.ORACLE_9, "sqlite", [
        Rpm("bpftool", "5.15.0", "321.202.4.el9uek", source="kernel-uek"),
        Rpm("kernel-uek", "5.15.0", "321.202.5.el9uek"),
    ]),
}  # fmt: skip


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    advisories = [
        a
        for p in sorted(DATA.glob("*.xml"))
        for a in oracle.parse_file(p)
        if isinstance(a, Advisory)
    ]
    VulnDb(store, ControlledClock()).apply(oracle.SOURCE, advisories)
    return MatchIndex(store)


def _image(tmp: Path, name: str) -> str:
    text, fmt, rpms = IMAGES[name]
    dbdir = build_rpmdb(tmp / "build", rpms)
    if fmt == "bdb":
        files = {"var/lib/rpm/Packages": bdb_packages(dbdir, tmp / "Packages")}
    else:
        files = {"var/lib/rpm/rpmdb.sqlite": (dbdir / "rpmdb.sqlite").read_bytes()}
    layer = make_layer(
        {"usr/lib/os-release": text, **files}, symlinks={"etc/os-release": "../usr/lib/os-release"}
    )
    write_oci_layout(tmp / "img", [make_image([layer])])
    return f"oci:{tmp / 'img'}:latest"


def _expected(name: str) -> dict[tuple[str, str], str | None]:
    text, _fmt, rpms = IMAGES[name]
    release = next(
        line.split("=")[1].strip('"')
        for line in text.splitlines()
        if line.startswith("VERSION_ID=")
    )
    system = System(release, "x86_64", {r.name: f"{r.version}-{r.release}" for r in rpms})
    out: dict[tuple[str, str], str | None] = {}
    for path in sorted(DATA.glob("*.xml")):
        out |= evaluate(path, system)
    return out


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_findings_agree_with_an_oval_evaluation(
    index: MatchIndex, tmp_path: Path, name: str
) -> None:
    inv = catalog_image(_image(tmp_path, name))
    assert inv.distro is not None and inv.distro.id == "ol"
    assert {p.name for p in inv.packages} == {r.name for r in IMAGES[name][2]}
    report = match(inv.packages, inv.distro, index, today=TODAY)
    assert report.unsupported_os is None
    assert report.os_ecosystem == f"Oracle Linux:{str(inv.distro.version_id).split('.')[0]}"
    got = {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}
    assert got == _expected(name)
    assert all(m.evidence.searched_by == "binary package" for m in report.matches)


def test_the_cases_the_oracle_covers() -> None:
    """Not vacuous: a fix per release, the backport, another kernel stream, each release's own
    fix (el8uek under 8, el9uek under 9)."""
    assert _expected("ol7") == {
        ("ELSA-2019-4821", "sudo"): "1.8.23-4.0.1.el7",
        ("ELSA-2019-4821", "sudo-devel"): "1.8.23-4.0.1.el7",
    }
    assert _expected("ol7-patched") == {}
    assert _expected("ol8") == {("ELSA-2026-50294", "bpftool"): "5.15.0-321.202.5.el8uek"}
    assert _expected("ol9") == {("ELSA-2026-50294", "bpftool"): "5.15.0-321.202.5.el9uek"}


def test_findings_are_filed_under_the_cve_with_oracle_severity(
    index: MatchIndex, tmp_path: Path
) -> None:
    from dockwatch.findings.build import build

    inv = catalog_image(_image(tmp_path, "ol7"))
    report = match(inv.packages, inv.distro, index, today=TODAY)
    keys = {(m.source, m.advisory_id) for m in report.matches}
    with index.store.read() as uow:
        contents = uow.vulns.advisory_contents(keys)
    drafts = build(report.matches, contents, {})
    assert set(drafts) == {"CVE-2019-14287"}  # the CVE the ELSA fixes, not the ELSA
    draft = drafts["CVE-2019-14287"]
    assert draft.severity == "HIGH"  # Oracle's IMPORTANT
    assert draft.fix_available == "YES"
