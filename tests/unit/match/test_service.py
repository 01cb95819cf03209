"""Matching against the real PyPA and Go data, checked against a brute force written here."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from dockwatch.clock import ControlledClock
from dockwatch.feeds.osv import iter_path
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory, AdvisoryID
from dockwatch.model.distro import Distro
from dockwatch.model.package import OsPackageRef, Package
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.support.corpus import SHARED

PYPA = SHARED / "vulndata" / "pypa-advisory-database" / "vulns"
# the pip layer of the corpus image debian-python (../shared/images/inputs/python-app)
PIP_LAYER = {
    "requests": "2.19.1",
    "urllib3": "1.23",
    "idna": "2.7",
    "chardet": "3.0.4",
    "certifi": "2018.8.24",
    "jinja2": "2.10",
    "markupsafe": "1.1.1",
    "django": "3.2",
    "asgiref": "3.3.4",
    "pytz": "2021.1",
    "sqlparse": "0.4.1",
    "flask": "0.12.2",
    "werkzeug": "0.14.1",
    "itsdangerous": "0.24",
    "click": "6.7",
}


def _brute_force(name: str, version: str) -> dict[str, str | None]:
    """advisory id -> first fixed version, by reading the YAML and walking events with packaging."""
    v = Version(version)
    out: dict[str, str | None] = {}
    folder = PYPA / name
    for path in sorted(folder.glob("*.yaml")) if folder.exists() else []:
        doc = yaml.safe_load(path.read_text())
        if doc.get("withdrawn"):
            continue
        for aff in doc.get("affected", []):
            pkg = aff.get("package", {})
            if pkg.get("ecosystem") != "PyPI" or canonicalize_name(pkg.get("name", "")) != name:
                continue
            if version in aff.get("versions", []):
                out.setdefault(doc["id"], None)
            for rng in aff.get("ranges", []):
                if rng.get("type") != "ECOSYSTEM":
                    continue
                events = []
                for ev in rng.get("events", []):
                    ((kind, value),) = ev.items()
                    try:
                        events.append(
                            (Version("0") if value == "0" else Version(value), kind, value)
                        )
                    except InvalidVersion:
                        continue
                events.sort(key=lambda e: e[0])
                affected, fix = False, None
                for ver, kind, value in events:
                    if kind == "introduced" and ver <= v:
                        affected, fix = True, None
                    elif kind == "fixed" and ver <= v:
                        affected = False
                    elif kind == "last_affected" and ver < v:
                        affected = False
                    elif kind == "fixed" and affected and fix is None:
                        fix = value
                if affected:
                    out[doc["id"]] = fix
    return out


@pytest.fixture(scope="module")
def vuln_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    if not PYPA.exists():
        pytest.skip(f"{PYPA} is absent (a fresh clone without ../shared)")
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    vdb = VulnDb(SqlStore(db), ControlledClock())
    advisories = [a for a in iter_path(PYPA.parent, "osv:PyPI") if isinstance(a, Advisory)]
    vdb.apply("osv:PyPI", advisories)
    return db


@pytest.fixture(scope="module")
def index(vuln_db: Database) -> MatchIndex:
    return MatchIndex(SqlStore(vuln_db))


def _pkg(name: str, version: str, os_package: OsPackageRef | None = None) -> Package:
    purl = f"pkg:pypi/{name}@{version}"
    return Package(name=name, version=version, type="python", purl=purl, os_package=os_package)


def test_pip_layer_matches_the_brute_force(index: MatchIndex) -> None:
    packages = [_pkg(n, v) for n, v in PIP_LAYER.items()]
    report = match(packages, Distro("debian", "12", "bookworm"), index, today=date(2026, 11, 26))
    found: dict[str, dict[str, str | None]] = {}
    for m in report.matches:
        found.setdefault(m.package.name, {})[m.advisory_id] = m.fixed_version
        assert m.evidence.searched_by == "ecosystem name" and m.evidence.ecosystem == "PyPI"
    expected = {n: hits for n, v in PIP_LAYER.items() if (hits := _brute_force(n, v))}
    assert found == expected
    assert sum(len(v) for v in expected.values()) > 20  # old packages: plenty of advisories


def test_os_owned_python_package_is_not_matched_as_pypi(index: MatchIndex) -> None:
    owned = _pkg(
        "requests", "2.19.1", os_package=OsPackageRef("deb", "python3-requests", "2.28.1+dfsg-1")
    )
    report = match([owned], Distro("debian", "12"), index, today=date(2026, 11, 26))
    assert report.matches == ()


def test_unsupported_os_is_said(index: MatchIndex) -> None:
    deb = Package(
        name="openssl",
        version="1.1.1n-0+deb11u1",
        type="deb",
        purl="pkg:deb/debian/openssl",
        source_name="openssl",
    )
    report = match(
        [deb, _pkg("requests", "2.19.1")],
        Distro("debian", "8", "jessie"),
        index,
        today=date(2026, 11, 26),
    )
    assert report.unsupported_os is not None
    assert {m.package.name for m in report.matches} == {"requests"}


def test_unparseable_version_is_indeterminate(index: MatchIndex) -> None:
    report = match([_pkg("requests", "not a version!")], None, index, today=date(2026, 11, 26))
    assert report.matches == ()
    assert report.indeterminate and all(i.package.name == "requests" for i in report.indeterminate)


def test_index_follows_the_delta(index: MatchIndex, vuln_db: Database, tmp_path: Path) -> None:
    import dataclasses

    from dockwatch.model.advisory import Affected, Event, EventKind, Range, RangeType

    before = index.refresh()
    vdb = VulnDb(SqlStore(vuln_db), ControlledClock())
    new = Advisory(
        id=AdvisoryID("TEST-2026-0001"),
        source="osv:PyPI",
        affected=(
            Affected(
                "PyPI",
                "itsdangerous",
                ranges=(
                    Range(
                        RangeType.ECOSYSTEM,
                        (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.0")),
                    ),
                ),
            ),
        ),
    )
    vdb.apply("osv:test", [new])
    report = match([_pkg("itsdangerous", "0.24")], None, index, today=date(2026, 11, 26))
    assert index.version > before
    assert ("TEST-2026-0001", "1.0") in {(m.advisory_id, m.fixed_version) for m in report.matches}
    vdb.apply(
        "osv:test",
        [
            dataclasses.replace(
                new, withdrawn=new.modified or __import__("datetime").datetime(2026, 1, 1)
            )
        ],
    )
    report = match([_pkg("itsdangerous", "0.24")], None, index, today=date(2026, 11, 26))
    assert "TEST-2026-0001" not in {m.advisory_id for m in report.matches}


def test_a_listed_version_that_is_not_pep440_matches_without_a_fix_lookup(tmp_path: Path) -> None:
    """Advisories list versions verbatim (PyPA lists '0.3m4'); a package at such a version is
    affected by the list, and the fix lookup, which must parse it, does not crash the match."""
    from dockwatch.model.advisory import Affected, Event, EventKind, Range, RangeType

    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    ranges = (
        Range(
            RangeType.ECOSYSTEM, (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "1.0"))
        ),
    )
    adv = Advisory(
        id=AdvisoryID("TEST-2026-0002"),
        source="osv:PyPI",
        affected=(Affected("PyPI", "oddpkg", ranges=ranges, versions=("0.2", "0.3m4")),),
    )
    VulnDb(SqlStore(db), ControlledClock()).apply("osv:test", [adv])
    index = MatchIndex(SqlStore(db))
    report = match([_pkg("oddpkg", "0.3m4")], None, index, today=date(2026, 11, 26))
    assert [(m.advisory_id, m.fixed_version) for m in report.matches] == [("TEST-2026-0002", None)]
