"""Each distribution family end to end: an image built with the family's own package database and
release file, pushed to a running server, scanned against the vendor's real records (imported
with `dockwatch db import`, as an air-gapped site does), findings read back over the API.

Expected findings come from the vendor records and the versions the test installs, compared by
the family's own tool (`dpkg --compare-versions`), never from dockwatch's output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import amazon
from tests.builders import os_release as osr
from tests.builders.http_push import push_built_image
from tests.builders.layers import apk_entry, dpkg_stanza, dpkg_status, make_image, make_layer
from tests.support.cli import db_import
from tests.support.servers import Server

DATA = Path(__file__).parents[1] / "data" / "feeds"


def _scanned(c: httpx.Client, repo: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/api/v1/repositories/{repo}/images/latest/findings")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["imageScanFindings"]["imageScanCompletedAt"] is not None:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{repo} not scanned within {timeout}s: {body}")
        time.sleep(0.2)


def _enhanced(c: httpx.Client) -> None:
    r = c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
    assert r.status_code == 200, r.text


def _by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]: f
        for f in body["imageScanFindings"]["enhancedFindings"]
    }


def _dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_ubuntu_image_reports_ubuntu_advisories(dockwatch: Server, tmp_path: Path) -> None:
    installed = [  # (binary, source, version)
        ("libc6", "glibc", "2.35-0ubuntu3.8"),
        ("libssl3", "openssl", "3.0.2-0ubuntu1.14"),  # upstream 3.0.2 is affected; backported
        ("ovmf", "edk2", "2022.02-3ubuntu0.22.04.2"),  # affected, no fix published
    ]
    status = dpkg_status(*(dpkg_stanza(b, v, source=s) for b, s, v in installed))
    base = make_layer(
        {
            "usr/lib/os-release": osr.UBUNTU_2204,
            "etc/debian_version": osr.UBUNTU_DEBIAN_VERSION,
            "var/lib/dpkg/status": status,
        },
        symlinks={"etc/os-release": "../usr/lib/os-release"},
    )
    db_import(dockwatch.data, DATA / "ubuntu" / "osv")
    # expected, from the raw records: 22.04 entries compared with dpkg
    expected: dict[str, tuple[str, str]] = {}  # CVE -> (binary, fixedInVersion)
    for path in sorted((DATA / "ubuntu" / "osv" / "cve").rglob("*.json")):
        rec = json.loads(path.read_text())
        cve = next(
            (x for x in [rec["id"], *rec.get("upstream", [])] if x.startswith("CVE-")), rec["id"]
        )
        for a in rec["affected"]:
            if a["package"]["ecosystem"] != "Ubuntu:22.04:LTS":
                continue
            fixed = next(
                (e["fixed"] for r in a["ranges"] for e in r["events"] if "fixed" in e), None
            )
            for binary, source, version in installed:
                if source == a["package"]["name"] and (fixed is None or _dpkg_lt(version, fixed)):
                    expected[cve] = (binary, fixed or "NotAvailable")
    assert set(expected) == {"CVE-2025-0395", "CVE-2024-0727"}
    with dockwatch.client() as c:
        _enhanced(c)
        push_built_image(c, "ubuntu-app", make_image([base]))
        found = _by_id(_scanned(c, "ubuntu-app"))
    assert set(found) == set(expected)
    for cve, (binary, fixed) in expected.items():
        details = found[cve]["packageVulnerabilityDetails"]
        (pkg,) = details["vulnerablePackages"]
        assert (pkg["name"], pkg["fixedInVersion"]) == (binary, fixed)
    glibc = found["CVE-2025-0395"]
    assert glibc["severity"] == "MEDIUM"  # Ubuntu's priority, not the CVSS score
    assert glibc["fixAvailable"] == "YES"
    assert found["CVE-2024-0727"]["fixAvailable"] == "NO"
    assert (
        found["CVE-2024-0727"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"]
        == "ovmf"
    )  # not libssl3: its backported fix is in


def test_end_of_life_ubuntu_still_scans_language_packages(
    dockwatch: Server, tmp_path: Path
) -> None:
    folder = tmp_path / "pypi"
    folder.mkdir()
    record = {
        "id": "PYSEC-2099-7",
        "aliases": ["CVE-2099-7007"],
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "alpha"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
            }
        ],
    }
    (folder / "PYSEC-2099-7.json").write_text(json.dumps(record))
    db_import(dockwatch.data, folder, DATA / "ubuntu" / "osv")
    layer = make_layer(
        {
            "etc/lsb-release": osr.UBUNTU_1404_LSB,
            "etc/debian_version": "jessie/sid\n",
            "var/lib/dpkg/status": dpkg_status(
                dpkg_stanza("libc6", "2.19-0ubuntu6.15", source="eglibc")
            ),
            "usr/lib/python3/dist-packages/alpha-1.0.dist-info/METADATA": (
                "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"
            ),
        }
    )
    with dockwatch.client() as c:
        _enhanced(c)
        push_built_image(c, "trusty-app", make_image([layer]))
        found = _by_id(_scanned(c, "trusty-app"))
    # 14.04 left Ubuntu Pro's Legacy support in 2026-04: no OS findings, Python still scanned
    assert set(found) == {"CVE-2099-7007"}


def test_wolfi_image_reports_wolfi_advisories(dockwatch: Server) -> None:
    """busybox 1.35.0-r2 sorts before Wolfi's fix 1.35.0-r3 (apk: same version, lower
    revision); 1.35.0-r3 carries the fix although upstream 1.35.0 is affected (the backport)."""
    db_import(dockwatch.data, DATA / "wolfi" / "security.json")
    images = {}
    for repo, version in (("wolfi-old", "1.35.0-r2"), ("wolfi-fixed", "1.35.0-r3")):
        images[repo] = make_image(
            [
                make_layer(
                    {
                        "etc/os-release": osr.WOLFI,
                        "lib/apk/db/installed": apk_entry("busybox", version, origin="busybox"),
                    }
                )
            ]
        )
    with dockwatch.client() as c:
        _enhanced(c)
        for repo, image in images.items():
            push_built_image(c, repo, image)
        old = _by_id(_scanned(c, "wolfi-old"))
        fixed = _by_id(_scanned(c, "wolfi-fixed"))
    # the fixed entries only: the false-positive determinations (`0`) are never reported
    assert set(old) == {"CVE-2022-28391", "CVE-2022-30065"}
    for finding in old.values():
        (pkg,) = finding["packageVulnerabilityDetails"]["vulnerablePackages"]
        assert (pkg["name"], pkg["version"], pkg["fixedInVersion"]) == (
            "busybox",
            "1.35.0-r2",
            "1.35.0-r3",
        )
    assert fixed == {}


@pytest.mark.skipif(not amazon.rpm_tools_available(), reason="rpm tools are not installed")
def test_amazon_linux_2023_image_reports_alas(dockwatch: Server, tmp_path: Path) -> None:
    """rsyslog before ALAS2023-2023-001's fix reports both of its CVEs (each a finding naming
    the advisory); rsyslog-openssl at Amazon's fixed release (upstream 8.2204.0 is affected)
    reports nothing. Expected from the record: fix 8.2204.0-3.amzn2023.0.2 for both CVEs."""
    rpmdb = amazon.rpmdb_sqlite(
        [
            ("rsyslog", None, "8.2204.0", "3.amzn2023.0.1"),
            ("rsyslog-openssl", None, "8.2204.0", "3.amzn2023.0.2"),
        ],
        tmp_path / "rpm",
    )
    layer = make_layer(
        {"usr/lib/os-release": amazon.AL2023_OS_RELEASE, "var/lib/rpm/rpmdb.sqlite": rpmdb},
        symlinks={"etc/os-release": "../usr/lib/os-release"},
    )
    db_import(dockwatch.data, DATA / "amazon" / "al2023-updateinfo.xml.gz")
    with dockwatch.client() as c:
        _enhanced(c)
        push_built_image(c, "al2023-app", make_image([layer]))
        found = _by_id(_scanned(c, "al2023-app"))
    assert set(found) == {"CVE-2014-3634", "CVE-2022-24903"}
    for finding in found.values():
        details = finding["packageVulnerabilityDetails"]
        (pkg,) = details["vulnerablePackages"]
        assert (pkg["name"], pkg["fixedInVersion"]) == ("rsyslog", "8.2204.0-3.amzn2023.0.2")
        assert details["relatedVulnerabilities"] == ["ALAS2023-2023-001"]
        assert finding["severity"] == "HIGH"  # Amazon's "Important"
