"""Continuous rescans end to end: of 50 monitored images, exactly the 2 holding the package a
new advisory names are re-evaluated, from the reverse index, with no layer read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders.layers import Image, make_image, make_layer, write_oci_layout
from tests.support.cli import db_import
from tests.support.postgres import DATABASE_BACKENDS
from tests.support.servers import Server
from tests.support.skopeo import copy


def _image(packages: dict[str, str], seed: str) -> Image:
    files = {
        f"usr/lib/python3/site-packages/{n}-{v}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {n}\nVersion: {v}\n"
        )
        for n, v in packages.items()
    }
    return make_image([make_layer({**files, "seed": seed})])


def _write(folder: Path, *records: dict[str, Any]) -> Path:
    folder.mkdir()
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    return folder


def _osv(vid: str, package: str, fixed: str) -> dict[str, Any]:
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


def _coverage(c: httpx.Client) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    token = None
    while True:
        params: dict[str, Any] = {"maxResults": 100}
        if token:
            params["nextToken"] = token
        body = c.get("/api/v1/coverage", params=params).json()
        for item in body["coveredResources"]:
            out[item["resourceMetadata"]["ecrRepository"]["name"]] = item
        token = body.get("nextToken")
        if not token:
            return out


def _events(server: Server, kind: str) -> list[dict[str, Any]]:
    return server.outbox_payloads(kind)


@pytest.mark.parametrize("dockwatch", DATABASE_BACKENDS, indirect=True)
def test_only_the_images_holding_the_package_are_rematched(
    dockwatch: Server, tmp_path: Path
) -> None:
    db_import(
        dockwatch.data,
        _write(tmp_path / "base", _osv("PYSEC-9-1", "alpha", "2.0")),
        env=dockwatch.extra_env,
    )
    home = tmp_path / "home"
    holders = {"svc-07", "svc-31"}
    with dockwatch.client() as c:
        c.put("/api/v1/registry/scanning-configuration", json={"scanType": "ENHANCED", "rules": []})
        for n in range(50):
            repo = f"svc-{n:02d}"
            packages = {"alpha": "1.0", "gamma": f"1.{n}"}
            if repo in holders:
                packages["beta"] = "3.0"
            layout = write_oci_layout(tmp_path / repo, [_image(packages, repo)])
            copy(f"oci:{layout}:latest", f"docker://{dockwatch.host}/{repo}:latest",
                 home=home, dest_auth=dockwatch.auth)  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            before = _coverage(c)
            if len(before) == 50 and all(
                i["scanStatus"]["reason"] == "SUCCESSFUL" for i in before.values()
            ):
                break
            assert time.monotonic() < deadline, "the 50 images were not scanned in time"
            time.sleep(0.3)
        scans = len(_events(dockwatch, "ScanCompleted"))
        assert scans == 50
        # an advisory about beta, held by two of the fifty images
        db_import(
            dockwatch.data,
            _write(tmp_path / "update", _osv("PYSEC-9-2", "beta", "4.0")),
            env=dockwatch.extra_env,
        )
        deadline = time.monotonic() + 60
        while not _events(dockwatch, "RescanCompleted"):
            assert time.monotonic() < deadline, "the update was not applied in time"
            time.sleep(0.2)
        (rescan,) = _events(dockwatch, "RescanCompleted")
        assert (rescan["imagesReevaluated"], rescan["affectedPairs"]) == (2, 2)
        assert (rescan["findingsOpened"], rescan["layersRead"]) == (2, 0)
        after = _coverage(c)
        moved = {r for r in after if after[r]["lastScannedAt"] != before[r]["lastScannedAt"]}
        assert moved == holders
        assert len(_events(dockwatch, "ScanCompleted")) == scans  # no image was scanned again
        for repo in sorted(after):
            body = c.get(f"/api/v1/repositories/{repo}/images/latest/findings").json()
            ids = {
                f["packageVulnerabilityDetails"]["vulnerabilityId"]
                for f in body["imageScanFindings"]["enhancedFindings"]
            }
            assert ids == ({"PYSEC-9-1", "PYSEC-9-2"} if repo in holders else {"PYSEC-9-1"}), repo
