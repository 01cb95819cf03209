"""A real client against a real server: skopeo's pull of an image a policy refuses fails with
the DENIED message naming the finding, by tag and by digest, and succeeds under an allowance."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.builders.http_push import push_built_image
from tests.support.cli import db_import
from tests.support.servers import Server
from tests.support.skopeo import copy
from tests.unit.pullpolicy.world import osv, python_image


def _wait_scanned(c: httpx.Client, repo: str, ref: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings")
        assert r.status_code == 200, r.text
        if r.json()["imageScanFindings"]["imageScanCompletedAt"] is not None:
            return
        assert time.monotonic() < deadline, f"{repo}:{ref} not scanned within {timeout}s"
        time.sleep(0.2)


def test_skopeo_pull_of_a_refused_image_fails_with_the_finding(
    dockwatch: Server, tmp_path: Path
) -> None:
    feed = tmp_path / "osv"
    feed.mkdir()
    (feed / "PYSEC-HIGH.json").write_text(json.dumps(osv("PYSEC-HIGH", "alpha", "2.0", "HIGH")))
    db_import(dockwatch.data, feed)
    image = python_image({"alpha": "1.0"})
    with dockwatch.client() as c:
        r = c.put(
            "/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []}
        )
        assert r.status_code == 200, r.text
        push_built_image(c, "app", image, tags=("v1",))
        _wait_scanned(c, "app", "v1")
        home = tmp_path / "home"
        src = f"docker://{dockwatch.host}/app:v1"
        copy(src, f"oci:{tmp_path / 'before'}:v1", home=home, src_auth=dockwatch.auth)
        r = c.put("/api/v1/pull-policy", json={"severityThreshold": "HIGH"})
        assert r.status_code == 200, r.text
        for ref in (src, f"docker://{dockwatch.host}/app@{image.digest}"):
            with pytest.raises(AssertionError) as refused:
                copy(ref, f"oci:{tmp_path / 'after'}:v1", home=home, src_auth=dockwatch.auth)
            text = str(refused.value)
            assert "denied" in text.lower() and "PYSEC-HIGH" in text and "alpha" in text
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        r = c.post(
            "/api/v1/pull-allowances",
            json={"repositoryName": "app", "imageDigest": image.digest,
                  "reason": "known, fix scheduled", "expiresAt": expires},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        copy(src, f"oci:{tmp_path / 'allowed'}:v1", home=home, src_auth=dockwatch.auth)
        metrics = c.get("/metrics").text
        assert 'dockwatch_pulls_refused_total{reason="severity"} 2.0' in metrics
