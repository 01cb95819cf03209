"""Fedora images matched by source rpm against Bodhi's stable security updates.

The image is built here in Fedora's real package database format (rpm's sqlite database at
`/usr/lib/sysimage/rpm/rpmdb.sqlite` since Fedora 36): `httpd-core`, a binary of the source
package `httpd`, built with `rpmbuild` and registered with `rpm --justdb`, next to Fedora 37's
os-release. The expected findings come from the raw Bodhi page (not the parser) and
`rpm.labelCompare` (python3-rpm): affected when the installed build sorts before the update's
build of its source package in the image's release.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import LayerFiles, ParseEnv
from dockwatch.catalog.distro import detect
from dockwatch.catalog.rpm.cataloger import RpmCataloger
from dockwatch.clock import ControlledClock
from dockwatch.feeds.fedora import SOURCE, parse_file
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.catalog import FileEntry
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders import os_release as osr
from tests.unit.versions.rpm_corpus import label_compare, rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "fedora"
DURING_F37 = date(2023, 2, 10)

pytestmark = pytest.mark.skipif(
    shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt: rpm)"
)

SPEC = """Name: httpd
Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
%package -n httpd-core
Summary: fixture
%description -n httpd-core
fixture
%install
mkdir -p %{{buildroot}}/usr/share/httpd-core
echo hi > %{{buildroot}}/usr/share/httpd-core/a.txt
%files -n httpd-core
/usr/share/httpd-core/a.txt
"""
BUILDS = [("2.4.54", "3.fc37"), ("2.4.55", "1.fc37")]


def _oracle(release: str, source: str, installed: str) -> dict[str, str]:
    """Update id -> fixed build, from the raw page and rpm.labelCompare."""
    page = json.loads((DATA / f"F{release}-page-1.json").read_text())
    fixes = []
    for u in page["updates"]:
        for b in u["builds"]:
            name, version, rel = b["nvr"].rsplit("-", 2)
            if name == source and u["release"]["version"] == release:
                fixes.append((u["alias"], f"{version}-{rel}"))
    verdicts = label_compare([(installed, fixed) for _a, fixed in fixes])
    return {alias: fixed for (alias, fixed), cmp in zip(fixes, verdicts, strict=True) if cmp < 0}


@pytest.fixture(scope="module")
def rpmdbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    top = tmp_path_factory.mktemp("rpmbuild")
    out: dict[str, bytes] = {}
    for version, release in BUILDS:
        spec = top / f"httpd-{release}.spec"
        spec.write_text(SPEC.format(version=version, release=release))
        cmd = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)]
        subprocess.run(cmd, check=True, capture_output=True)
        (rpm_file,) = (top / "RPMS").rglob(f"httpd-core-{version}-{release}.*.rpm")
        db = top / f"db-{release}"
        db.mkdir()
        subprocess.run(
            ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), str(rpm_file)],
            check=True,
            capture_output=True,
        )
        out[f"{version}-{release}"] = (db / "rpmdb.sqlite").read_bytes()
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    advisories = [a for p in DATA.glob("F*.json") for a in parse_file(p)]
    VulnDb(store, ControlledClock()).apply(
        SOURCE, [a for a in advisories if isinstance(a, Advisory)]
    )
    return MatchIndex(store)


@pytest.mark.parametrize("installed", ["2.4.54-3.fc37", "2.4.55-1.fc37"])
def test_findings_agree_with_rpm_label_compare(
    index: MatchIndex, rpmdbs: dict[str, bytes], installed: str
) -> None:
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    text = osr.FEDORA_37.encode()
    rpmdb = rpmdbs[installed]
    path = "/usr/lib/sysimage/rpm/rpmdb.sqlite"
    files = {
        "/usr/lib/os-release": FileEntry("/usr/lib/os-release", len(text), 0o644, text),
        "/etc/os-release": FileEntry(
            "/etc/os-release", 0, 0o777, link_target="../usr/lib/os-release"
        ),
        path: FileEntry(path, len(rpmdb), 0o644, rpmdb),
    }
    distro = detect(files)
    assert distro is not None and (distro.id, distro.version_id) == ("fedora", "37")
    packages = RpmCataloger().catalog(LayerFiles(files), ParseEnv(distro, LayerFiles())).packages
    report = match(list(packages), distro, index, today=DURING_F37)
    assert report.unsupported_os is None and report.os_ecosystem == "Fedora:37"
    got = {m.advisory_id: m.fixed_version for m in report.matches}
    assert got == _oracle("37", "httpd", installed)
    assert all(m.evidence.searched_by == "source package" for m in report.matches)
    # after Fedora 37's end of life the image is unsupported, with no OS finding
    late = match(list(packages), distro, index, today=date(2026, 12, 5))
    assert late.unsupported_os == "Fedora 37 reached end of life on 2023-12-05"


def test_the_cases_the_oracle_covers() -> None:
    if not rpm_oracle_available():
        pytest.skip("python3-rpm is not installed for the system Python (deps/apt-packages.txt)")
    assert _oracle("37", "httpd", "2.4.54-3.fc37") == {"FEDORA-2023-f6ff3f85eb": "2.4.55-1.fc37"}
    assert _oracle("37", "httpd", "2.4.55-1.fc37") == {}
