"""Findings listing and suppression rules against the real server.

Images are built here with Python packages whose versions the test chooses, the advisories
are OSV records written here and imported with `dockwatch db import`; the expected findings
come from comparing those versions with the fixed versions (not from dockwatch's output), and
every filtered listing, read page by page, must equal the test's own filter over everything.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.model import page_token
from tests.builders.http_push import push_built_image
from tests.builders.layers import Image, make_image, make_layer
from tests.support.cli import db_import
from tests.support.postgres import DATABASE_BACKENDS
from tests.support.servers import Server

OCI = "application/vnd.oci.image.manifest.v1+json"
VECTORS = {
    "CRITICAL": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "HIGH": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    "LOW": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
    "MEDIUM": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N",
}
# (OSV id, CVE alias, package, fixed version or None, severity or None)
ADVISORIES = [
    ("PYSEC-2090-1", "CVE-2090-1001", "alpha", "2.0", "HIGH"),
    ("PYSEC-2090-2", "CVE-2090-1002", "beta", "3.0", "CRITICAL"),
    ("PYSEC-2090-3", "CVE-2090-1003", "gamma", None, "MEDIUM"),
    ("GHSA-2090-aaaa-bbbb", None, "alpha", "1.5", "LOW"),
    ("PYSEC-2090-5", "CVE-2090-1005", "delta", "1.1", None),
]
# (repository, tags, layers as {package: version})
IMAGES = [
    ("app", ["v1"], [{"alpha": "1.0"}, {"beta": "2.0"}]),
    ("app", ["v2"], [{"alpha": "2.0", "gamma": "1.0"}]),
    ("web", ["latest"], [{"beta": "2.0", "delta": "1.0", "alpha": "1.4"}]),
    ("web", ["old", "stable"], [{"gamma": "0.9"}]),
    ("api", ["1"], [{"alpha": "1.9", "delta": "1.2"}]),
]


def _v(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _expected(images: list[tuple[str, list[str], list[dict[str, str]]]]) -> dict[Any, str]:
    """(repository, tag of the image, vulnerability id) -> severity, by comparing versions."""
    out: dict[Any, str] = {}
    for repo, tags, layers in images:
        installed = {k: v for layer in layers for k, v in layer.items()}
        for osv_id, cve, package, fixed, severity in ADVISORIES:
            version = installed.get(package)
            if version is not None and (fixed is None or _v(version) < _v(fixed)):
                out[(repo, tags[0], cve or osv_id)] = severity or "UNTRIAGED"
    return out


def _image(layers: list[dict[str, str]], seed: str) -> Image:
    built = []
    for i, packages in enumerate(layers):
        files: dict[str, str] = {f"seed-{i}": seed}
        for name, version in packages.items():
            path = f"usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"
            files[path] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        built.append(make_layer(files))
    return make_image(built)


def _import(server: Server, tmp: Path) -> None:
    folder = tmp / "advisories"
    folder.mkdir()
    for osv_id, cve, package, fixed, severity in ADVISORIES:
        events: list[dict[str, str]] = [{"introduced": "0"}]
        if fixed:
            events.append({"fixed": fixed})
        record: dict[str, Any] = {
            "id": osv_id,
            "modified": "2026-11-01T00:00:00Z",
            "summary": f"{package} is vulnerable",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": package},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
            ],
        }
        if cve:
            record["aliases"] = [cve]
        if severity:
            record["severity"] = [{"type": "CVSS_V3", "score": VECTORS[severity]}]
        (folder / f"{osv_id}.json").write_text(json.dumps(record))
    db_import(server.data, folder, env=server.extra_env)


def _until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _scanned(c: httpx.Client, digests: set[str]) -> bool:
    items = c.get("/api/v1/coverage").json()["coveredResources"]
    done = {
        i["resourceId"].rsplit("/", 1)[1]
        for i in items
        if i["scanStatus"]["reason"] == "SUCCESSFUL"
    }
    return digests <= done


def _pages(c: httpx.Client, params: dict[str, Any], limit: int = 3) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        query = {**params, "maxResults": limit, **({"nextToken": token} if token else {})}
        r = c.get("/api/v1/findings", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["findings"]) <= limit
        out += body["findings"]
        token = body.get("nextToken")
        if not token:
            return out


def _image_of(f: dict[str, Any]) -> dict[str, Any]:
    image: dict[str, Any] = f["resources"][0]["details"]["awsEcrContainerImage"]
    return image


def _key(f: dict[str, Any]) -> tuple[str, str, str]:
    return (
        _image_of(f)["repositoryName"],
        _image_of(f)["imageHash"],
        f["packageVulnerabilityDetails"]["vulnerabilityId"],
    )


def _status_of(c: httpx.Client, vuln: str) -> set[str]:
    return {f["status"] for f in _pages(c, {"vulnerabilityId": vuln}, 100)}


def _by_tag(c: httpx.Client, repo: str, tag: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/repositories/{repo}/images/{tag}/findings")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["imageScanFindings"]
    return body


def _error(r: httpx.Response, status: int, kind: str, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["__type"] == kind, body
    assert words in body["message"], body


@pytest.mark.parametrize("dockwatch", DATABASE_BACKENDS, indirect=True)
def test_listing_filters_pagination_and_suppression(dockwatch: Server, tmp_path: Path) -> None:
    _import(dockwatch, tmp_path)
    with dockwatch.client() as c:
        r = c.put(
            "/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []}
        )
        assert r.status_code == 200, r.text
        digests = {}
        for i, (repo, tags, layers) in enumerate(IMAGES):
            digests[(repo, tags[0])] = push_built_image(c, repo, _image(layers, str(i)), tags)
        _until(lambda: _scanned(c, set(digests.values())))
        expected = {
            (repo, digests[(repo, tag)], vuln): severity
            for (repo, tag, vuln), severity in _expected(IMAGES).items()
        }

        # everything, page by page
        everything = _pages(c, {})
        assert {_key(f): f["severity"] for f in everything} == expected
        assert len(everything) == len(expected)
        for f in everything:
            assert f["status"] == "ACTIVE"
            assert f["findingArn"].startswith("arn:aws:inspector2:")
            assert f["packageVulnerabilityDetails"]["vulnerablePackages"]
        ghsa = next(
            f
            for f in everything
            if f["packageVulnerabilityDetails"]["vulnerabilityId"].startswith("GHSA")
        )
        assert (
            ghsa["packageVulnerabilityDetails"]["vulnerablePackages"][0]["fixedInVersion"] == "1.5"
        )

        # filters: the listing equals the test's own filter over everything
        def names(f: dict[str, Any]) -> set[str]:
            return {p["name"] for p in f["packageVulnerabilityDetails"]["vulnerablePackages"]}

        cases: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
            ({"severity": ["HIGH", "CRITICAL"]}, lambda f: f["severity"] in ("HIGH", "CRITICAL")),
            ({"ecrImageRepositoryName": "web"}, lambda f: _image_of(f)["repositoryName"] == "web"),
            ({"ecrImageRepositoryName": "ap*"}, lambda f: _image_of(f)["repositoryName"].startswith("ap")),
            ({"vulnerabilityId": "CVE-2090-1001"}, lambda f: _key(f)[2] == "CVE-2090-1001"),
            ({"vulnerabilityId": "!CVE-2090-1001"}, lambda f: _key(f)[2] != "CVE-2090-1001"),
            ({"packageName": "alpha"}, lambda f: "alpha" in names(f)),
            ({"ecrImageTags": "stable"}, lambda f: "stable" in _image_of(f)["imageTags"]),
            ({"ecrImageHash": digests[("app", "v1")]}, lambda f: _key(f)[1] == digests[("app", "v1")]),
            ({"fixAvailable": "NO"}, lambda f: f["fixAvailable"] == "NO"),
            ({"findingStatus": "ACTIVE", "severity": "UNTRIAGED"}, lambda f: f["severity"] == "UNTRIAGED"),
            ({"inspectorScoreMin": 7.0}, lambda f: (f.get("inspectorScore") or -1) >= 7.0),
        ]  # fmt: skip
        for params, keep in cases:
            got = _pages(c, params, limit=2)
            assert sorted(map(_key, got)) == sorted(_key(f) for f in everything if keep(f)), params
            assert any(keep(f) for f in everything), params

        # sorted pages follow the order (ties in the order findings were stored), each once
        ordered = _pages(c, {"sortBy": "VULNERABILITY_ID", "sortOrder": "ASC"}, limit=4)
        keys = [_key(f)[2] for f in ordered]
        assert keys == sorted(keys)
        arns = [f["findingArn"] for f in ordered]
        assert len(set(arns)) == len(arns) and set(arns) == {f["findingArn"] for f in everything}
        body = c.post(
            "/api/v1/findings/list",
            json={
                "filterCriteria": {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "web"}]},
                "sortCriteria": {"field": "SEVERITY", "sortOrder": "DESC"},
                "maxResults": 100,
            },
        ).json()  # fmt: skip
        assert [_key(f) for f in body["findings"]] == [
            _key(f) for f in _pages(c, {"ecrImageRepositoryName": "web"}, limit=100)
        ]

        # one finding, by id or ARN, with the evidence
        one = everything[0]
        by_arn = c.get(f"/api/v1/findings/{one['findingArn']}").json()
        by_id = c.get(f"/api/v1/findings/{one['findingArn'].rsplit('/', 1)[1]}").json()
        assert by_arn == by_id and by_arn["evidence"] and by_arn["status"] == one["status"]

        # a suppression rule for one CVE
        v1_counts = _by_tag(c, "app", "v1")["findingSeverityCounts"]
        assert v1_counts.get("CRITICAL") == 1
        r = c.post(
            "/api/v1/suppression-rules",
            json={
                "action": "SUPPRESS",
                "name": "mute-beta",
                "reason": "not reachable",
                "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-2090-1002"}]},
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["arn"].endswith(f":owner/{rule['ownerId']}/filter/{rule['id']}")
        assert rule["findingsChanged"] == 2
        assert _status_of(c, "CVE-2090-1002") == {"SUPPRESSED"}
        assert _status_of(c, "CVE-2090-1001") == {"ACTIVE"}
        v1 = _by_tag(c, "app", "v1")
        assert "CRITICAL" not in v1["findingSeverityCounts"]
        assert {f["packageVulnerabilityDetails"]["vulnerabilityId"]: f["status"] for f in v1["enhancedFindings"]}["CVE-2090-1002"] == "SUPPRESSED"  # fmt: skip
        assert len(_pages(c, {"findingStatus": "SUPPRESSED"})) == 2
        listed = c.get("/api/v1/suppression-rules").json()["filters"]
        assert [x["arn"] for x in listed] == [rule["arn"]]
        assert c.get(f"/api/v1/suppression-rules/{rule['arn']}").json()["name"] == "mute-beta"

        # a new image with the CVE: its finding is born SUPPRESSED
        new = push_built_image(c, "app", _image([{"beta": "2.5"}], "new"), ["v3"])
        _until(lambda: _scanned(c, {new}))
        born = _pages(c, {"ecrImageHash": new})
        assert [(_key(f)[2], f["status"]) for f in born] == [("CVE-2090-1002", "SUPPRESSED")]

        # removing the rule reactivates them all
        r = c.delete(f"/api/v1/suppression-rules/{rule['id']}")
        assert r.status_code == 200 and r.json()["arn"] == rule["arn"]
        assert _status_of(c, "CVE-2090-1002") == {"ACTIVE"}
        assert _by_tag(c, "app", "v1")["findingSeverityCounts"].get("CRITICAL") == 1
        assert c.get("/api/v1/suppression-rules").json()["filters"] == []

        # findings by layer, in manifest order
        layers = c.get("/api/v1/repositories/app/images/v1/findings/by-layer").json()["layers"]
        manifest = c.get("/v2/app/manifests/v1", headers={"Accept": OCI}).json()
        assert [g["layerDigest"] for g in layers] == [x["digest"] for x in manifest["layers"]]
        assert [sorted(f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in g["findings"]) for g in layers] == [
            ["CVE-2090-1001", "GHSA-2090-aaaa-bbbb"], ["CVE-2090-1002"]
        ]  # fmt: skip
        assert layers[1]["findingSeverityCounts"] == {"CRITICAL": 1}


def test_rule_expiry_and_bad_requests(dockwatch: Server, tmp_path: Path) -> None:
    _import(dockwatch, tmp_path)
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        digest = push_built_image(c, "svc", _image([{"gamma": "1.0", "alpha": "1.0"}], "x"), ["v1"])
        _until(lambda: _scanned(c, {digest}))
        now = datetime.fromisoformat(c.get("/-/test/clock").json()["now"])

        # invalid rules, filters, tokens
        bad_rule = {"action": "SUPPRESS", "name": "bad",
                    "filterCriteria": {"severity": [{"comparison": "LIKE", "value": "HIGH"}]}}  # fmt: skip
        _error(c.post("/api/v1/suppression-rules", json=bad_rule), 400, "ValidationException",
               "filterCriteria.severity[0].comparison")  # fmt: skip
        _error(c.post("/api/v1/suppression-rules", json={**bad_rule, "filterCriteria": {}}), 400,
               "ValidationException", "at least one criterion")  # fmt: skip
        _error(c.post("/api/v1/suppression-rules", json={"action": "SUPPRESS", "filterCriteria": {}}),
               400, "ValidationException", "name")  # fmt: skip
        _error(
            c.post("/api/v1/suppression-rules", content=b"{"), 400, "ValidationException", "JSON"
        )
        _error(c.get("/api/v1/findings", params={"severity": "high"}), 400, "ValidationException",
               "severity")  # fmt: skip
        _error(c.get("/api/v1/findings", params={"severty": "HIGH"}), 400, "ValidationException",
               "severty")  # fmt: skip
        _error(c.get("/api/v1/findings", params={"nextToken": "abc"}), 400, "ValidationException",
               "nextToken")  # fmt: skip
        token = c.get("/api/v1/findings", params={"maxResults": 1}).json()["nextToken"]
        _error(c.get("/api/v1/findings", params={"maxResults": 1, "nextToken": token, "severity": "LOW"}),
               400, "ValidationException", "filter criteria")  # fmt: skip
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))[12:])
        position = {k: v for k, v in body["p"].items() if k != "n"}  # as pages resumed after an id
        earlier = page_token.encode({**position, "i": "0" * 32}, bound_to=body["b"])
        _error(c.get("/api/v1/findings", params={"maxResults": 1, "nextToken": earlier}), 400,
               "ValidationException", "earlier version")  # fmt: skip
        _error(c.get("/api/v1/findings", params={"maxResults": 5000}), 400, "ValidationException",
               "maxResults")  # fmt: skip
        _error(c.get("/api/v1/findings", params={"sortBy": "NAME"}), 400, "ValidationException",
               "sortBy")  # fmt: skip
        _error(c.post("/api/v1/findings/list", json={"filter": {}}), 400, "ValidationException",
               "unknown field")  # fmt: skip
        _error(
            c.get("/api/v1/findings/0123456789abcdef"),
            404,
            "ResourceNotFoundException",
            "no finding",
        )
        _error(c.get("/api/v1/suppression-rules/nope"), 404, "ResourceNotFoundException", "nope")
        agg = c.get("/api/v1/findings/aggregations", params={"type": "REPOSITORY"})
        assert "no finding" not in agg.text  # not shadowed by /api/v1/findings/{findingId}

        # a rule that expires
        r = c.post(
            "/api/v1/suppression-rules",
            json={
                "action": "SUPPRESS",
                "name": "until-tomorrow",
                "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "CVE-2090-1003"}]},
                "expiresAt": (now + timedelta(days=1)).isoformat(),
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "IN_FORCE"
        _error(c.post("/api/v1/suppression-rules", json={**r.json(), "filterCriteria": r.json()["criteria"]}),
               400, "ValidationException", "unknown field")  # fmt: skip
        dup = {"action": "NONE", "name": "until-tomorrow", "filterCriteria": {}}
        _error(c.post("/api/v1/suppression-rules", json=dup), 409, "ConflictException", "exists")
        assert _status_of(c, "CVE-2090-1003") == {"SUPPRESSED"}
        assert c.post("/-/test/clock", json={"advanceSeconds": 2 * 86400}).status_code == 200
        _until(lambda: _status_of(c, "CVE-2090-1003") == {"ACTIVE"})
        assert c.get(f"/api/v1/suppression-rules/{r.json()['id']}").json()["state"] == "EXPIRED"
