"""A Photon OS 4.0 image built in code (rpm's sqlite database, as Photon 4 and 5 keep it, and
Photon's os-release) matched against Photon's real CVE metadata.

Expected findings come from the raw rows and `rpm.labelCompare` (python3-rpm, the system Python):
a row applies to an installed rpm whose source package it names; a fixed row is a finding when
the installed version sorts before `res_ver`; `Fixed` without a version is undecidable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dockwatch.catalog.service import catalog_image
from dockwatch.clock import ControlledClock
from dockwatch.feeds.photon import parse_files
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.advisory import Advisory
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb
from tests.builders import os_release as osr
from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.unit.versions.rpm_corpus import label_compare, rpm_oracle_available

DATA = Path(__file__).parents[2] / "data" / "feeds" / "photon" / "cve_data_photon4.0.json"
BEFORE_EOL = date(2026, 1, 15)  # Photon 4.0 support is planned to end in March 2026

pytestmark = [
    pytest.mark.skipif(
        shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt: rpm)"
    ),
    pytest.mark.skipif(not rpm_oracle_available(), reason="python3-rpm not installed"),
]

SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: fixture
License: MIT
BuildArch: noarch
%description
fixture
{subpackages}
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo x > %{{buildroot}}/usr/share/{name}/x
%files
/usr/share/{name}/x
{subfiles}
"""

Spec = tuple[str, str, str, tuple[str, ...]]
# (source, version, release, subpackages): curl 7.88.1 is affected upstream by CVE-2023-38545
# (fixed upstream in 8.4.0); Photon backported the fix into 7.88.1-4.ph4.
VULNERABLE: list[Spec] = [
    ("curl", "7.88.1", "3.ph4", ("libs",)),
    ("nghttp2", "1.52.0", "1.ph4", ()),
    ("httpd", "2.4.58", "1.ph4", ()),  # CVE-2023-44487: Not Affected
    ("python3", "3.10.11", "1.ph4", ()),  # CVE-2023-50447: `Fixed`, no version
]
PATCHED: list[Spec] = [("curl", "7.88.1", "4.ph4", ("libs",))]
_FAST = ("--define", "__os_install_post %{nil}", "--define", "_build_id_links none")


def _rpmdb(top: Path, specs: list[Spec]) -> bytes:
    """rpmbuild the packages and install them with `rpm --justdb`: rpm's own sqlite database."""
    top.mkdir()
    for name, version, release, subs in specs:
        spec = top / f"{name}.spec"
        spec.write_text(
            SPEC.format(
                name=name,
                version=version,
                release=release,
                subpackages="".join(
                    f"%package {s}\nSummary: {s}\n%description {s}\n{s}\n" for s in subs
                ),
                subfiles="".join(f"%files {s}\n" for s in subs),
            )
        )
        subprocess.run(
            ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", *_FAST, str(spec)],
            check=True,
            capture_output=True,
        )
    db = top / "db"
    db.mkdir()
    rpms = sorted(str(p) for p in (top / "RPMS").rglob("*.rpm"))
    subprocess.run(
        ["rpm", "-i", "--nodeps", "--justdb", "--dbpath", str(db), *rpms],
        check=True,
        capture_output=True,
    )
    return (db / "rpmdb.sqlite").read_bytes()


def _image(tmp: Path, specs: list[Spec]) -> str:
    layer = make_layer(
        {"usr/lib/os-release": osr.PHOTON_4, "var/lib/rpm/rpmdb.sqlite": _rpmdb(tmp / "b", specs)},
        symlinks={"etc/os-release": "../usr/lib/os-release"},
    )
    write_oci_layout(tmp / "img", [make_image([layer])])
    return f"oci:{tmp / 'img'}:latest"


def _installed(specs: list[Spec]) -> list[tuple[str, str, str]]:
    """(binary, source, version) of what the specs install."""
    return [
        (binary, name, f"{version}-{release}")
        for name, version, release, subs in specs
        for binary in (name, *(f"{name}-{s}" for s in subs))
    ]


def _oracle(
    installed: list[tuple[str, str, str]],
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """((id, binary) -> fix, undecidable (id, binary)) from the raw rows and rpm.labelCompare."""
    rows = json.loads(DATA.read_text())
    pairs, keys = [], []
    undecidable = set()
    for row in rows:
        for binary, source, version in installed:
            if row["pkg"] != source or row["status"] == "Not Affected":
                continue
            if row["res_ver"] == "NA":
                undecidable.add((row["cve_id"], binary))
                continue
            pairs.append((version, row["res_ver"]))
            keys.append((row["cve_id"], binary, row["res_ver"]))
    found = {
        (cve, binary): fix
        for (cve, binary, fix), cmp in zip(keys, label_compare(pairs), strict=True)
        if cmp < 0
    }
    return found, undecidable


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('vdb') / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    advisories = [a for a in parse_files([(DATA, "")]) if isinstance(a, Advisory)]
    VulnDb(store, ControlledClock()).apply("photon", advisories)
    return MatchIndex(store)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Both images, built once: rpmbuild is the slow part."""
    return {
        "vulnerable": _image(tmp_path_factory.mktemp("vulnerable"), VULNERABLE),
        "backport": _image(tmp_path_factory.mktemp("backport"), PATCHED),
    }


@pytest.mark.parametrize(
    ("name", "specs"),
    [("vulnerable", VULNERABLE), ("backport", PATCHED)],
    ids=["vulnerable", "backport"],
)
def test_photon_image_matches_agree_with_rpm(
    index: MatchIndex,
    images: dict[str, str],
    name: str,
    specs: list[Spec],
) -> None:
    inv = catalog_image(images[name])
    assert inv.distro is not None and (inv.distro.id, inv.distro.version_id) == ("photon", "4.0")
    installed = _installed(specs)
    assert {(p.name, p.source_name, p.version) for p in inv.packages} == set(installed)
    report = match(inv.packages, inv.distro, index, today=BEFORE_EOL)
    assert report.unsupported_os is None and report.os_ecosystem == "Photon OS:4.0"
    found, undecidable = _oracle(installed)
    got = {(m.advisory_id, m.package.name): m.fixed_version for m in report.matches}
    assert got == found
    assert {(u.advisory_id, u.package.name) for u in report.indeterminate} == undecidable


def test_the_cases_the_oracle_covers() -> None:
    """Not vacuous: fixes found, the backport and the not-affected package clean, one undecided."""
    found, undecidable = _oracle(_installed(VULNERABLE))
    assert found == {
        ("CVE-2023-38545", "curl"): "7.88.1-4.ph4",
        ("CVE-2023-38545", "curl-libs"): "7.88.1-4.ph4",
        ("CVE-2023-38546", "curl"): "7.88.1-4.ph4",
        ("CVE-2023-38546", "curl-libs"): "7.88.1-4.ph4",
        ("CVE-2023-44487", "nghttp2"): "1.57.0-1.ph4",
    }
    assert undecidable == {("CVE-2023-50447", "python3")}
    assert _oracle(_installed(PATCHED)) == ({}, set())


def test_photon_past_end_of_life_is_unsupported(index: MatchIndex, images: dict[str, str]) -> None:
    inv = catalog_image(images["vulnerable"])
    report = match(inv.packages, inv.distro, index, today=date(2026, 12, 5))
    assert report.unsupported_os == "Photon OS 4.0 reached end of life on 2026-03-31"
    assert report.matches == ()
