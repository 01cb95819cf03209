"""Ubuntu packages matched by source package against Ubuntu's own records.

The expected verdicts are computed from the raw record files (not from the parser) with
`dpkg --compare-versions`: affected when the release has no fix, or the installed version sorts
before the fix; an LTS release without a fix of its own takes Ubuntu Pro's (`+esm`) fix.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dockwatch.clock import ControlledClock
from dockwatch.feeds.feed import Fetched
from dockwatch.feeds.ubuntu import UbuntuFeed
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb

DATA = Path(__file__).parents[2] / "data" / "feeds" / "ubuntu" / "osv"
TODAY = date(2026, 12, 5)

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")

# (binary, source, version) per release: vulnerable glibc, Ubuntu's backported openssl fix
# (upstream 3.0.2 is affected by CVE-2024-0727; 3.0.2-0ubuntu1.14 carries the fix), unfixed edk2
JAMMY = [
    ("libc6", "glibc", "2.35-0ubuntu3.8"),
    ("libssl3", "openssl", "3.0.2-0ubuntu1.14"),
    ("ovmf", "edk2", "2022.02-3ubuntu0.22.04.2"),
]
JAMMY_PATCHED = [("libc6", "glibc", "2.35-0ubuntu3.9"), ("libssl3", "openssl", "3.0.2-0ubuntu1.10")]
BIONIC = [("libssl1.1", "openssl", "1.1.1-1ubuntu2.1~18.04.23")]


def _dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


def _oracle(
    release: str, packages: list[tuple[str, str, str]]
) -> dict[tuple[str, str], str | None]:
    """(record id, binary) -> fixed version, from the raw files."""
    out: dict[tuple[str, str], str | None] = {}
    for path in sorted((DATA / "cve").rglob("*.json")):
        rec = json.loads(path.read_text())
        fixes: dict[str, dict[str, str | None]] = {}
        for a in rec["affected"]:
            eco, name = a["package"]["ecosystem"], a["package"]["name"]
            fixed = next(
                (e["fixed"] for r in a["ranges"] for e in r["events"] if "fixed" in e), None
            )
            if eco == f"Ubuntu:{release}:LTS":
                fixes.setdefault(name, {})["release"] = fixed
            elif eco == f"Ubuntu:Pro:{release}:LTS":
                fixes.setdefault(name, {})["pro"] = fixed
        for binary, source, version in packages:
            if source not in fixes:
                continue
            entry = fixes[source]
            fixed = entry.get("release") or entry.get("pro")
            if fixed is None or _dpkg_lt(version, fixed):
                out[(rec["id"], binary)] = fixed
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    items = UbuntuFeed().parse(Fetched.local("osv:Ubuntu", DATA))
    VulnDb(store, ControlledClock()).apply(
        "osv:Ubuntu", [a for a in items if isinstance(a, Advisory)]
    )
    return MatchIndex(store)


def _deb(binary: str, source: str, version: str) -> Package:
    return Package(
        name=binary,
        version=version,
        type="deb",
        purl=f"pkg:deb/ubuntu/{binary}@{version}",
        source_name=source,
        source_version=version,
    )


@pytest.mark.parametrize(
    ("distro", "packages"),
    [
        (Distro("ubuntu", "22.04", "jammy"), JAMMY),
        (Distro("ubuntu", "22.04", "jammy"), JAMMY_PATCHED),
        (Distro("ubuntu", "18.04", "bionic"), BIONIC),
    ],
)
def test_matches_agree_with_dpkg(
    index: MatchIndex, distro: Distro, packages: list[tuple[str, str, str]]
) -> None:
    report = match([_deb(*p) for p in packages], distro, index, today=TODAY)
    assert report.unsupported_os is None
    got = {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}
    assert got == _oracle(str(distro.version_id), packages)
    for m in report.matches:
        assert m.evidence.searched_by == "source package"


def test_the_cases_the_oracle_covers(index: MatchIndex) -> None:
    """The oracle is not vacuous: a fix, a backport, an unfixed package, a Pro fix."""
    jammy = _oracle("22.04", JAMMY)
    assert jammy == {
        ("UBUNTU-CVE-2025-0395", "libc6"): "2.35-0ubuntu3.9",
        ("CVE-2024-0727", "ovmf"): None,  # affected, no fix: fixAvailable NO
    }
    assert ("CVE-2024-0727", "libssl3") not in jammy  # the backported fix
    assert _oracle("18.04", BIONIC) == {
        ("CVE-2024-0727", "libssl1.1"): "1.1.1-1ubuntu2.1~18.04.23+esm4"
    }


def test_end_of_life_release_is_unsupported(index: MatchIndex) -> None:
    report = match(
        [_deb("libc6", "eglibc", "2.19-0ubuntu6.15")],
        Distro("ubuntu", "14.04", "trusty"),
        index,
        today=TODAY,
    )
    assert report.unsupported_os is not None and "end of life" in report.unsupported_os
    assert report.matches == ()
