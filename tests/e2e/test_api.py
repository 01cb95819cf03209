"""The JSON API under /api/v1/ against a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.conformance.oci import push_image
from tests.support.servers import Server


def test_repositories_and_images(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        digest, manifest = push_image(c, "team/app", "v1")
        c.put(
            "/v2/team/app/manifests/latest",
            content=manifest,
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        push_image(c, "team/other", "v1", seed="other")
        repos = c.get("/api/v1/repositories").json()["repositories"]
        assert [r["repositoryName"] for r in repos] == ["team/app", "team/other"]
        assert repos[0]["repositoryArn"] == "arn:aws:ecr:us-east-1:000000000000:repository/team/app"
        assert repos[0]["imageScanningConfiguration"] == {"scanOnPush": False}
        (image,) = c.get("/api/v1/repositories/team/app/images").json()["imageDetails"]
        assert image["imageDigest"] == digest
        assert image["imageTags"] == ["latest", "v1"]
        assert image["imageSizeInBytes"] == len(manifest)
        assert image["imagePushedAt"] and image["lastRecordedPullTime"] is None


def test_errors_are_aws_shaped(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        r = c.get("/api/v1/repositories/nothing/here/images")
        assert r.status_code == 404
        assert r.json()["__type"] == "RepositoryNotFoundException"
        r = c.get("/api/v1/no-such-operation")
        assert r.status_code == 404 and r.json()["__type"] == "ResourceNotFoundException"
        r = c.delete("/api/v1/repositories")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
        r = c.post("/api/v1/findings/list", content=b"[" * 100_000 + b"]" * 100_000)
        assert r.status_code == 400 and r.json()["__type"] == "ValidationException"
    r = httpx.get(f"{dockwatch.url}/api/v1/repositories")
    assert r.status_code == 401 and r.json()["__type"] == "UnauthorizedException"


def test_openapi_lists_what_is_served(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        doc = c.get("/api/v1/openapi.json").json()
        assert doc["openapi"].startswith("3.")
        for path, methods in doc["paths"].items():
            if "get" not in methods:
                continue
            concrete = path.replace("{name}", "team/x")
            r = c.get(concrete)
            assert r.status_code in (200, 404), (path, r.status_code)
            assert r.headers["content-type"].startswith("application/json")


def test_db_status_over_http(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        status = c.get("/api/v1/db/status").json()
    assert status == {"version": 0, "builtAt": None, "advisories": 0, "sources": []}


def _ground_truth_dpkg(name: str) -> set[tuple[str, str]]:
    """(package, version) from the corpus build's own reading of the rootfs."""
    from tests.support.corpus import corpus_dir

    section, out = "", set()
    for line in (corpus_dir() / f"{name}.contents.txt").read_text().splitlines():
        if line.startswith("#"):
            section = line
        elif line.strip() and section.startswith("# dpkg"):
            pkg, version, _arch = line.split()
            out.add((pkg, version))
    return out


def test_sbom_of_a_stored_image(dockwatch: Server, tmp_path: Path) -> None:
    from tests.support.corpus import corpus_dir
    from tests.support.skopeo import copy

    corpus = corpus_dir()
    copy(
        f"oci:{corpus / 'distroless-debian'}:latest",
        f"docker://{dockwatch.host}/sbom/distroless:v1",
        home=tmp_path / "home",
        dest_auth=dockwatch.auth,
    )
    with dockwatch.client() as c:
        r = c.get("/api/v1/repositories/sbom/distroless/images/v1/sbom")
        assert r.status_code == 200, r.text
        doc = r.json()
        found = {(p["name"], p["version"]) for p in doc["packages"] if p["type"] == "deb"}
        assert found == _ground_truth_dpkg("distroless-debian")
        summary = json.loads((corpus / "distroless-debian.summary.json").read_text())
        assert {p["layerDigest"] for p in doc["packages"]} == set(summary["layer_digests"])
        cdx = c.get(
            "/api/v1/repositories/sbom/distroless/images/v1/sbom",
            params={"format": "cyclonedx-json"},
        )
        assert cdx.headers["content-type"].startswith("application/vnd.cyclonedx+json")
        assert cdx.json()["specVersion"] == "1.6"
        spdx = c.get(
            "/api/v1/repositories/sbom/distroless/images/v1/sbom", params={"format": "spdx-json"}
        )
        assert spdx.json()["spdxVersion"] == "SPDX-2.3"
        bad = c.get("/api/v1/repositories/sbom/distroless/images/v1/sbom", params={"format": "xml"})
        assert bad.status_code == 400 and bad.json()["__type"] == "ValidationException"
        missing = c.get("/api/v1/repositories/sbom/distroless/images/nope/sbom")
        assert missing.status_code == 404 and missing.json()["__type"] == "ImageNotFoundException"


def test_metrics_and_health(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        push_image(c, "metrics/app", "v1")
    text = httpx.get(f"{dockwatch.url}/metrics").text
    assert (
        'dockwatch_http_requests_total{method="PUT",route="v2/manifests",status="201"} 1.0' in text
    )
    assert "dockwatch_http_request_seconds_bucket" in text
    assert "# TYPE dockwatch_scan_jobs gauge" in text
    # the push's events are read by the scan worker: nothing stays pending
    deadline = time.monotonic() + 30
    while "dockwatch_scan_events_pending 0.0" not in httpx.get(f"{dockwatch.url}/metrics").text:
        assert time.monotonic() < deadline, "the scan worker did not read the push's events"
        time.sleep(0.1)
    health = httpx.get(f"{dockwatch.url}/healthz").json()
    assert health["status"] == "ok" and health["scanner"] in ("ready", "loading")


def test_password_guessing_is_limited_per_address(dockwatch: Server) -> None:
    """Guesses from one loopback address are held back (429); another address still gets in."""
    guesser = httpx.Client(
        base_url=dockwatch.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    )
    with guesser:
        answers = [guesser.get("/v2/", auth=("tester", f"guess-{i}")) for i in range(8)]
        assert [r.status_code for r in answers[:5]] == [401] * 5
        assert answers[-1].status_code == 429
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    with dockwatch.client() as c:  # from 127.0.0.1
        assert c.get("/v2/").status_code == 200
