"""Enhanced scanning end to end: push with skopeo, findings within seconds, continuous re-match."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import db_import
from tests.support.corpus import SHARED, corpus_dir, summary
from tests.support.servers import Server
from tests.support.skopeo import copy
from tests.unit.match.test_service import PIP_LAYER, _brute_force

PYPA = SHARED / "vulndata" / "pypa-advisory-database"
CONFIG = {
    "scanType": "ENHANCED",
    "rules": [
        {
            "scanFrequency": "CONTINUOUS_SCAN",
            "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
        },
        {
            "scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [{"filter": "dev-*", "filterType": "WILDCARD"}],
        },
    ],
}


def _db_import(server: Server, path: Path) -> None:
    db_import(server.data, path)


def _findings(c: httpx.Client, repo: str, ref: str = "latest") -> dict[str, Any]:
    r = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _wait_scanned(
    c: httpx.Client, repo: str, after: str | None = None, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = _findings(c, repo)
        done = body["imageScanFindings"]["imageScanCompletedAt"]
        if done is not None and (after is None or done > after):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{repo} not scanned within {timeout}s: {body['imageScanStatus']}")
        time.sleep(0.2)


def _vuln_id(doc: dict[str, Any]) -> str:
    """The finding id rule, written independently: the CVE among the aliases, else the id."""
    if str(doc["id"]).startswith("CVE-"):
        return str(doc["id"])
    cves = sorted(a for a in doc.get("aliases", []) if a.startswith("CVE-"))
    return cves[0] if cves else str(doc["id"])


def _expected() -> dict[tuple[str, str], set[str | None]]:
    """(vulnerability id, package) -> acceptable fixed versions, by brute force over PyPA."""
    import yaml

    out: dict[tuple[str, str], set[str | None]] = {}
    for name, version in PIP_LAYER.items():
        for advisory_id, fixed in _brute_force(name, version).items():
            path = next((PYPA / "vulns" / name).glob(f"{advisory_id}.yaml"))
            vuln = _vuln_id(yaml.safe_load(path.read_text()))
            out.setdefault((vuln, name), set()).add(fixed)
    return out


@pytest.mark.corpus
def test_enhanced_scanning_on_push_and_continuously(dockwatch: Server, tmp_path: Path) -> None:
    corpus = corpus_dir()
    if not PYPA.exists():
        pytest.skip(f"{PYPA} is absent")
    _db_import(dockwatch, PYPA)
    home = tmp_path / "home"
    src = f"oci:{corpus / 'debian-python'}:latest"
    with dockwatch.client() as c:
        assert c.put("/api/v1/registry/scanning-configuration", json=CONFIG).status_code == 200
        preview = c.post("/api/v1/registry/scanning-configuration/preview", json=CONFIG).json()
        assert preview["scanType"] == "ENHANCED"
        for repo in ("other-api", "dev-api", "prod-api"):
            copy(
                src, f"docker://{dockwatch.host}/{repo}:latest", home=home, dest_auth=dockwatch.auth
            )
        prod = _wait_scanned(c, "prod-api")
        dev = _wait_scanned(c, "dev-api")
        other = _findings(c, "other-api")
        # no rule covers other-api: never scanned (coverage: INACTIVE / SCAN_FREQUENCY_MANUAL)
        assert (
            other["imageScanStatus"]["status"] == "FINDINGS_UNAVAILABLE"
            and other["imageScanFindings"]["enhancedFindings"] == []
            and other["imageScanFindings"]["imageScanCompletedAt"] is None
        )
        pip_layer = summary("debian-python")["layer_digests"][2]  # type: ignore[index]
        found: dict[tuple[str, str], str] = {}
        for f in prod["imageScanFindings"]["enhancedFindings"]:
            assert f["status"] == "ACTIVE"
            for p in f["packageVulnerabilityDetails"]["vulnerablePackages"]:
                if p["packageManager"] == "PYTHONPKG":
                    assert p["sourceLayerHash"] == pip_layer
                    found[(f["packageVulnerabilityDetails"]["vulnerabilityId"], p["name"])] = p[
                        "fixedInVersion"
                    ]
        expected = _expected()
        assert set(found) == set(expected)
        for key, fixed in found.items():
            assert (None if fixed == "NotAvailable" else fixed) in expected[key], key
        counts = prod["imageScanFindings"]["findingSeverityCounts"]
        assert sum(counts.values()) == len(prod["imageScanFindings"]["enhancedFindings"])

        # a new advisory for a package of the image: a new finding without any push
        new = {
            "id": "PYSEC-2099-1",
            "aliases": ["CVE-2099-0001"],
            "modified": "2026-11-26T00:00:00Z",
            "summary": "test advisory",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "itsdangerous"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0"}]}
                    ],
                }
            ],
        }
        (tmp_path / "new").mkdir()
        (tmp_path / "new" / "PYSEC-2099-1.json").write_text(json.dumps(new))
        before_prod = prod["imageScanFindings"]["imageScanCompletedAt"]
        before_dev = dev["imageScanFindings"]["imageScanCompletedAt"]
        _db_import(dockwatch, tmp_path / "new")
        rescanned = _wait_scanned(c, "prod-api", after=before_prod)
        ids = {
            f["packageVulnerabilityDetails"]["vulnerabilityId"]
            for f in rescanned["imageScanFindings"]["enhancedFindings"]
        }
        assert "CVE-2099-0001" in ids
        assert len(ids) == len({v for v, _ in expected}) + 1
        # the re-match read no layer: it used the stored inventory
        import sqlite3

        db = sqlite3.connect(f"file:{dockwatch.data / 'dockwatch.db'}?mode=ro", uri=True)
        scans = [
            json.loads(p)
            for (p,) in db.execute(
                "SELECT payload FROM outbox WHERE event_type = 'ScanCompleted' ORDER BY id"
            )
        ]
        rescans = [
            json.loads(p)
            for (p,) in db.execute(
                "SELECT payload FROM outbox WHERE event_type = 'RescanCompleted' ORDER BY id"
            )
        ]
        db.close()
        assert sorted((s["repositoryName"], s["trigger"]) for s in scans) == [
            ("dev-api", "scan"),
            ("prod-api", "scan"),
        ]
        assert sum(s["layersRead"] for s in scans) == 4  # four layers, read once for two repos
        # one delta applied: prod-api alone re-evaluated (dev-api is scanned on push only),
        # from the reverse index, with no layer read
        assert [
            (r["imagesReevaluated"], r["findingsOpened"], r["layersRead"]) for r in rescans
        ] == [(1, 1, 0)]
        # scan-on-push repositories are not re-matched
        time.sleep(1)
        assert _findings(c, "dev-api")["imageScanFindings"]["imageScanCompletedAt"] == before_dev
