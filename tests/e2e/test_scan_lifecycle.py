"""Scan status over time, against the real server with its clock moved: expiry, re-push,
duration changes, activation and deactivation, coverage. Images and advisories built here."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.builders.debian_zlib import ADVISORY as ZLIB_ADVISORY
from tests.builders.debian_zlib import zlib_image
from tests.builders.http_push import push_built_image
from tests.builders.layers import Image, make_image, make_layer
from tests.support.cli import db_import
from tests.support.servers import Server

OCI = "application/vnd.oci.image.manifest.v1+json"


def _image(package: str, version: str, seed: str) -> Image:
    """A scratch image with one Python package installed (a dist-info)."""
    meta = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
    layer = make_layer(
        {
            f"usr/lib/python3/site-packages/{package}-{version}.dist-info/METADATA": meta,
            "seed": seed,
        }
    )
    return make_image([layer])


def _advisories(server: Server, tmp: Path, *records: dict[str, Any]) -> None:
    folder = tmp / f"adv{time.monotonic_ns()}"
    folder.mkdir()
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    db_import(server.data, folder)


def _advisory(vid: str, package: str, fixed: str) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def _advance(c: httpx.Client, days: float) -> None:
    assert c.post("/-/test/clock", json={"advanceSeconds": days * 86400}).status_code == 200


def _coverage(c: httpx.Client, repo: str) -> dict[str, Any]:
    items = c.get("/api/v1/coverage", params={"repositoryName": repo}).json()["coveredResources"]
    return {i["resourceId"].rsplit("/", 1)[1]: i for i in items}


def _until(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _status(c: httpx.Client, repo: str, digest: str) -> tuple[str, str] | None:
    item = _coverage(c, repo).get(digest)
    return (
        None if item is None else (item["scanStatus"]["statusCode"], item["scanStatus"]["reason"])
    )


def _settled(c: httpx.Client, repo: str, digest: str) -> tuple[str, str] | None:
    """The scan status once the scan is done (not pending, not in progress)."""
    status = _status(c, repo, digest)
    if status is None or status[1] in ("PENDING_INITIAL_SCAN", "SCAN_IN_PROGRESS"):
        return None
    return status


def _open_findings(c: httpx.Client, repo: str, ref: str) -> set[str]:
    body = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings").json()
    return {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]
        for f in body["imageScanFindings"]["enhancedFindings"]
    }


def test_expiry_repush_and_duration_changes(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-1-1", "alpha", "2.0"))
    with dockwatch.client() as c:
        assert (
            c.put(
                "/api/v1/registry/scanning-configuration",
                json={"scanType": "ENHANCED", "rules": []},
            ).status_code
            == 200
        )
        assert c.put(
            "/api/v1/configuration", json={"ecrConfiguration": {"rescanDuration": "DAYS_14"}}
        ).json() == {"ecrConfiguration": {"rescanDuration": "DAYS_14"}}
        old = push_built_image(c, "app", _image("alpha", "1.0", "old"), ["v1"])
        _until(lambda: _status(c, "app", old) == ("ACTIVE", "SUCCESSFUL"))
        assert _open_findings(c, "app", "v1") == {"PYSEC-1-1"}
        _advance(c, 10)
        new = push_built_image(c, "app", _image("alpha", "1.0", "new"), ["v2"])
        _until(lambda: _status(c, "app", new) == ("ACTIVE", "SUCCESSFUL"))
        # 15 days after the first push: only the old image expires, by the worker's pass alone
        _advance(c, 5)
        _until(lambda: _status(c, "app", old) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"))
        assert _status(c, "app", new) == ("ACTIVE", "SUCCESSFUL")
        assert _open_findings(c, "app", old) == set()
        ecr = c.get(f"/api/v1/repositories/app/images/{old}/findings").json()["imageScanStatus"]
        assert ecr["status"] == "SCAN_ELIGIBILITY_EXPIRED"
        # increasing the duration does not revive expired images
        c.put("/api/v1/configuration", json={"ecrConfiguration": {"rescanDuration": "DAYS_90"}})
        time.sleep(0.5)
        assert _status(c, "app", old) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
        # decreasing it expires the images now past it at once
        c.put("/api/v1/configuration", json={"ecrConfiguration": {"rescanDuration": "DAYS_3"}})
        _until(lambda: _status(c, "app", new) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"))
        # pushing again resumes monitoring, with the findings open again
        r = c.get("/v2/app/manifests/v1", headers={"Accept": OCI})
        assert (
            c.put(
                "/v2/app/manifests/v1", content=r.content, headers={"Content-Type": OCI}
            ).status_code
            == 201
        )
        _until(lambda: _status(c, "app", old) == ("ACTIVE", "SUCCESSFUL"))
        assert _open_findings(c, "app", old) == {"PYSEC-1-1"}


def test_activation_window_and_deactivation(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-2-1", "beta", "5.0"))
    with dockwatch.client() as c:
        old = push_built_image(c, "svc", _image("beta", "1.0", "old"), ["old"])
        _advance(c, 31)
        recent = push_built_image(c, "svc", _image("beta", "1.0", "recent"), ["recent"])
        assert _coverage(c, "svc") == {}  # BASIC with no rule: nothing scanned
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        _until(lambda: _status(c, "svc", recent) == ("ACTIVE", "SUCCESSFUL"))
        assert _status(c, "svc", old) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
        assert _open_findings(c, "svc", "recent") == {"PYSEC-2-1"}
        # back to BASIC: enhanced findings closed, enhanced coverage gone
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "BASIC", "rules": []})
        assert _coverage(c, "svc") == {}
        assert _open_findings(c, "svc", "recent") == set()


def test_coverage_filters_and_pagination(dockwatch: Server, tmp_path: Path) -> None:
    with dockwatch.client() as c:
        c.put(
            "/api/v1/registry/scanning-configuration",
            json={
                "scanType": "ENHANCED",
                "rules": [
                    {
                        "scanFrequency": "SCAN_ON_PUSH",
                        "repositoryFilters": [{"filter": "cov", "filterType": "WILDCARD"}],
                    }
                ],
            },
        )
        digests = {
            push_built_image(c, f"cov-{i}", _image("gamma", "1.0", str(i)), ["v1"])
            for i in range(5)
        }
        _until(lambda: len(c.get("/api/v1/coverage").json()["coveredResources"]) == 5)
        seen: list[str] = []
        token = None
        while True:
            params: dict[str, Any] = {"maxResults": 2}
            if token:
                params["nextToken"] = token
            page = c.get("/api/v1/coverage", params=params).json()
            seen += [i["resourceId"].rsplit("/", 1)[1] for i in page["coveredResources"]]
            assert all(
                i["resourceMetadata"]["ecrRepository"]["scanFrequency"] == "SCAN_ON_PUSH"
                for i in page["coveredResources"]
            )
            token = page.get("nextToken")
            if not token:
                break
        assert set(seen) == digests and len(seen) == 5
        assert (
            c.get("/api/v1/coverage", params={"scanStatusCode": "INACTIVE"}).json()[
                "coveredResources"
            ]
            == []
        )
        assert c.get("/api/v1/coverage", params={"nextToken": "garbage!"}).status_code == 400
        assert c.get("/api/v1/coverage", params={"maxResults": 0}).status_code == 400


def test_delete_closes_findings_and_removes_coverage(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-3-1", "delta", "2.0"))
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        digest = push_built_image(c, "gone", _image("delta", "1.0", "x"), ["v1"])
        _until(lambda: _status(c, "gone", digest) == ("ACTIVE", "SUCCESSFUL"))
        assert _open_findings(c, "gone", "v1") == {"PYSEC-3-1"}
        assert c.delete(f"/v2/gone/manifests/{digest}").status_code == 202
        _until(lambda: _status(c, "gone", digest) is None)


def test_unsupported_os_still_reports_language_packages(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-4-1", "epsilon", "2.0"))
    meta = "Metadata-Version: 2.1\nName: epsilon\nVersion: 1.0\n"
    layer = make_layer(
        {
            "etc/os-release": 'ID=plan9\nVERSION_ID="4"\n',
            "usr/lib/python3/site-packages/epsilon-1.0.dist-info/METADATA": meta,
        }
    )
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        digest = push_built_image(c, "exotic", make_image([layer]), ["v1"])
        _until(lambda: _settled(c, "exotic", digest))
        # monitored for its language packages; the unsupported OS is named in ECR's status
        assert _status(c, "exotic", digest) == ("ACTIVE", "SUCCESSFUL")
        ecr = c.get("/api/v1/repositories/exotic/images/v1/findings").json()["imageScanStatus"]
        assert ecr["status"] == "ACTIVE" and "plan9" in ecr["description"]
        assert _open_findings(c, "exotic", "v1") == {"PYSEC-4-1"}
        # and rescanned continuously: a new advisory reaches it with no push
        _advisories(dockwatch, tmp_path, _advisory("PYSEC-4-2", "epsilon", "1.5"))
        _until(lambda: _open_findings(c, "exotic", "v1") == {"PYSEC-4-1", "PYSEC-4-2"})


def _deb_image(seed: str) -> Image:
    """A Debian 12 image with one OS package (zlib1g, source zlib) and one Python package."""
    meta = "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"
    return zlib_image(seed, {"usr/lib/python3/site-packages/alpha-1.0.dist-info/METADATA": meta})


def test_basic_scanning_and_the_manual_limit(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, ZLIB_ADVISORY, _advisory("PYSEC-5-1", "alpha", "2.0"))
    with dockwatch.client() as c:
        c.put(
            "/api/v1/registry/scanning-configuration",
            json={
                "scanType": "BASIC",
                "rules": [
                    {
                        "scanFrequency": "SCAN_ON_PUSH",
                        "repositoryFilters": [{"filter": "onpush", "filterType": "WILDCARD"}],
                    }
                ],
            },
        )
        push_built_image(c, "onpush", _deb_image("a"), ["v1"])
        push_built_image(c, "manual", _deb_image("b"), ["v1"])

        def basic(repo: str) -> dict[str, Any] | None:
            body: dict[str, Any] = c.get(f"/api/v1/repositories/{repo}/images/v1/findings").json()
            return body if body["imageScanStatus"]["status"] == "COMPLETE" else None

        result = _until(lambda: basic("onpush"))
        # OS packages only, in ECR's basic shape
        assert [
            (f["name"], f["attributes"][0]["value"])
            for f in result["imageScanFindings"]["findings"]
        ] == [("CVE-2099-1111", "zlib1g")]
        assert "enhancedFindings" not in result["imageScanFindings"]
        assert _coverage(c, "onpush") == {}  # basic scanning has no Inspector coverage
        # a repository no rule names is scanned only when asked, at most once per 24 hours
        assert (
            c.get("/api/v1/repositories/manual/images/v1/findings").json()["imageScanStatus"][
                "status"
            ]
            == "PENDING"
        )
        r = c.post("/api/v1/repositories/manual/images/v1/scan")
        assert r.status_code == 200 and r.json()["imageScanStatus"]["status"] == "IN_PROGRESS"
        _until(lambda: basic("manual"))
        again = c.post("/api/v1/repositories/manual/images/v1/scan")
        assert again.status_code == 400 and again.json()["__type"] == "LimitExceededException"
        _advance(c, 1.01)
        assert c.post("/api/v1/repositories/manual/images/v1/scan").status_code == 200
        # under enhanced scanning there are no manual scans
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        r = c.post("/api/v1/repositories/manual/images/v1/scan")
        assert r.status_code == 409 and r.json()["__type"] == "ConflictException"


def test_enrichment_updates_findings_without_a_push(dockwatch: Server, tmp_path: Path) -> None:
    advisory = _advisory("PYSEC-6-1", "zeta", "2.0")
    advisory["aliases"] = ["CVE-2098-0006"]
    _advisories(dockwatch, tmp_path, advisory)
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        digest = push_built_image(c, "kev", _image("zeta", "1.0", "k"), ["v1"])
        _until(lambda: _status(c, "kev", digest) == ("ACTIVE", "SUCCESSFUL"))

        def exploit() -> str:
            body = c.get("/api/v1/repositories/kev/images/v1/findings").json()
            (finding,) = body["imageScanFindings"]["enhancedFindings"]
            assert finding["packageVulnerabilityDetails"]["vulnerabilityId"] == "CVE-2098-0006"
            return str(finding["exploitAvailable"])

        assert exploit() == "NO"
        kev = {
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": "2026.11.26",
            "dateReleased": "2026-11-26T00:00:00.000Z",
            "count": 1,
            "vulnerabilities": [
                {
                    "cveID": "CVE-2098-0006", "vendorProject": "Zeta", "product": "zeta",
                    "vulnerabilityName": "Zeta RCE", "dateAdded": "2026-11-26",
                    "shortDescription": "test", "requiredAction": "update", "dueDate": "2026-12-17",
                    "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": [],
                }
            ],
        }  # fmt: skip
        folder = tmp_path / "kev"
        folder.mkdir()
        (folder / "known_exploited_vulnerabilities.json").write_text(json.dumps(kev))
        db_import(dockwatch.data, folder)
        _until(lambda: exploit() == "YES")


def test_each_platform_of_an_index_is_scanned_and_reported_together(
    dockwatch: Server, tmp_path: Path
) -> None:
    from tests.builders.layers import make_index

    _advisories(dockwatch, tmp_path, _advisory("PYSEC-7-1", "eta", "2.0"))
    amd = _image("eta", "1.0", "amd")
    arm_layer = make_layer(
        {
            "usr/lib/python3/site-packages/eta-3.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: eta\nVersion: 3.0\n"
        }
    )
    arm = make_image([arm_layer], platform="linux/arm64")
    index = make_index([amd, arm])
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        push_built_image(c, "multi", amd, [amd.digest])
        push_built_image(c, "multi", arm, [arm.digest])
        r = c.put(
            "/v2/multi/manifests/latest",
            content=index,
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        )
        assert r.status_code == 201
        _until(lambda: _settled(c, "multi", amd.digest) and _settled(c, "multi", arm.digest))
        body = c.get("/api/v1/repositories/multi/images/latest/findings").json()
        by_platform = {p["platform"]: p for p in body["platforms"]}
        assert set(by_platform) == {"linux/amd64", "linux/arm64"}
        assert len(by_platform["linux/amd64"]["findingIds"]) == 1  # eta 1.0 is affected
        assert by_platform["linux/arm64"]["findingIds"] == []  # eta 3.0 is fixed
        assert body["imageScanFindings"]["findingSeverityCounts"] == {"UNTRIAGED": 1}
        # the index itself is not a covered resource: its platform images are
        assert set(_coverage(c, "multi")) == {amd.digest, arm.digest}


def test_pull_date_keeps_pulled_images_monitored(dockwatch: Server, tmp_path: Path) -> None:
    """With a pull-date duration, an image expires only when both its last push and its last
    pull (its push when never pulled) are older than their durations; a pull (GET of the
    manifest) counts, a HEAD does not."""
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-7-1", "alpha", "2.0"))
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        body = {
            "ecrConfiguration": {
                "rescanDuration": "DAYS_14",
                "pullDateRescanDuration": "DAYS_30",
                "pullDateRescanMode": "LAST_PULL_DATE",
            }
        }
        assert c.put("/api/v1/configuration", json=body).status_code == 200
        pulled = push_built_image(c, "pulls", _image("alpha", "1.0", "pulled"), ["used"])
        idle = push_built_image(c, "pulls", _image("alpha", "1.0", "idle"), ["idle"])
        _until(lambda: _status(c, "pulls", pulled) == ("ACTIVE", "SUCCESSFUL"))
        _until(lambda: _status(c, "pulls", idle) == ("ACTIVE", "SUCCESSFUL"))
        _advance(c, 10)
        assert c.get("/v2/pulls/manifests/used", headers={"Accept": OCI}).status_code == 200
        assert c.head("/v2/pulls/manifests/idle", headers={"Accept": OCI}).status_code == 200
        # day 15: both pushes are past 14 days, yet both were pulled (or, never pulled, pushed)
        # within 30 days: both stay monitored
        _advance(c, 5)
        time.sleep(0.5)
        assert _status(c, "pulls", idle) == ("ACTIVE", "SUCCESSFUL")
        # day 31: the never-pulled image (its pull date counts from its push) expires; the
        # image pulled on day 10 stays
        _advance(c, 16)
        _until(lambda: _status(c, "pulls", idle) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"))
        assert _status(c, "pulls", pulled) == ("ACTIVE", "SUCCESSFUL")
        assert _open_findings(c, "pulls", "used") == {"PYSEC-7-1"}
        # day 39: 29 days since the pull, still monitored; day 41: 31 days, expired
        _advance(c, 8)
        time.sleep(0.5)
        assert _status(c, "pulls", pulled) == ("ACTIVE", "SUCCESSFUL")
        _advance(c, 2)
        _until(lambda: _status(c, "pulls", pulled) == ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"))
        assert _open_findings(c, "pulls", "used") == set()
