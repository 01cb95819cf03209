"""Backup while the server runs (pushes in flight), restore into a new folder, serve it: every
image pulls byte-identical with skopeo, findings and configuration are equal, fsck is clean."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.builders.http_push import push_built_image
from tests.builders.layers import Image, make_image, make_layer, write_oci_layout
from tests.conformance.oci import sha256
from tests.support import cli
from tests.support.cli import db_import
from tests.support.servers import Server, start_dockwatch
from tests.support.skopeo import copy


def _image(package: str, version: str, seed: str) -> Image:
    meta = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
    files = {f"usr/lib/python3/site-packages/{package}-{version}.dist-info/METADATA": meta}
    return make_image([make_layer({**files, "seed": seed}), make_layer({"data": seed * 500})])


def _advisories(data: Path, tmp: Path) -> None:
    folder = tmp / "advisories"
    folder.mkdir()
    for vid, package in (("PYSEC-9-1", "alpha"), ("PYSEC-9-2", "beta")):
        rec = {
            "id": vid,
            "modified": "2026-11-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0"}]}],
            }],
        }  # fmt: skip
        (folder / f"{vid}.json").write_text(json.dumps(rec))
    db_import(data, folder)


def _findings(c: httpx.Client, repo: str, ref: str) -> list[tuple[str, str, str]]:
    body = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings").json()
    return sorted(
        (f["packageVulnerabilityDetails"]["vulnerabilityId"], f["status"], f["severity"])
        for f in body["imageScanFindings"]["enhancedFindings"]
    )


def _until(check: Any, timeout: float = 60) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)
    return value


def _layout_blobs(root: Path) -> dict[str, bytes]:
    return {f"sha256:{p.name}": p.read_bytes() for p in (root / "blobs" / "sha256").iterdir()}


def test_backup_of_a_running_server_restores_byte_identical(
    dockwatch: Server, tmp_path: Path
) -> None:
    server = dockwatch
    _advisories(server.data, tmp_path)
    images = {
        "apps/alpha": _image("alpha", "1.0", "a"),
        "apps/beta": _image("beta", "2.0", "b"),
        "apps/gamma": _image("alpha", "3.0", "c"),
    }
    with server.client() as c:
        enhanced = {"scanType": "ENHANCED", "rules": []}
        assert c.put("/api/v1/registry/scanning-configuration", json=enhanced).status_code == 200
    layout = write_oci_layout(tmp_path / "layout-alpha", [images["apps/alpha"]], "v1")
    copy(f"oci:{layout}:v1", f"docker://{server.host}/apps/alpha:v1", home=tmp_path / "home", dest_auth=server.auth)  # fmt: skip
    with server.client() as c:
        for repo in ("apps/beta", "apps/gamma"):
            push_built_image(c, repo, images[repo], ("v1", "stable"))
        body = {"ecrConfiguration": {"rescanDuration": "DAYS_30"}}
        assert c.put("/api/v1/configuration", json=body).status_code == 200
        for repo in images:
            _until(lambda repo=repo: _findings(c, repo, "v1"))
        before = {repo: _findings(c, repo, "v1") for repo in images}
        config = c.get("/api/v1/configuration").json()
        scanning = c.get("/api/v1/registry/scanning-configuration").json()

        # a push in flight: half of a layer uploaded when the backup runs
        late = _image("delta", "4.0", "late")
        r = c.post("/v2/apps/late/blobs/uploads/")
        assert r.status_code == 202
        location = r.headers["Location"]
        half = len(late.layers[0].blob) // 2
        r = c.patch(location, content=late.layers[0].blob[:half], headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 202, r.text
        location = r.headers["Location"]

        # and pushes running throughout the backup
        stop = threading.Event()
        busy: list[str] = []

        def pusher() -> None:
            with server.client() as pc:
                n = 0
                while not stop.is_set():
                    push_built_image(pc, "apps/busy", _image("busy", "1.0", f"busy{n}"), (f"t{n}",))
                    busy.append(f"t{n}")
                    n += 1

        thread = threading.Thread(target=pusher)
        thread.start()
        try:
            backup = tmp_path / "backup"
            out = cli.dockwatch("backup", "--data", str(server.data), "--to", str(backup))
        finally:
            stop.set()
            thread.join(timeout=120)
        assert out.returncode == 0, out.stderr

        sep = "&" if "?" in location else "?"
        r = c.put(f"{location}{sep}digest={sha256(late.layers[0].blob)}", content=late.layers[0].blob[half:])  # fmt: skip
        assert r.status_code == 201, r.text
        push_built_image(c, "apps/late", late, ("v1",))

    restored = tmp_path / "restored"
    out = cli.dockwatch("restore", "--from", str(backup), "--data", str(restored))
    assert out.returncode == 0, out.stderr
    out = cli.dockwatch("fsck", "--data", str(restored))
    assert out.returncode == 0, out.stdout + out.stderr
    second = start_dockwatch(restored)
    try:
        for repo, image in images.items():
            pulled = tmp_path / f"pulled-{repo.replace('/', '-')}"
            copy(f"docker://{second.host}/{repo}:v1", f"oci:{pulled}:v1", home=tmp_path / "home2", src_auth=second.auth)  # fmt: skip
            got = _layout_blobs(pulled)
            for digest, content in image.blobs().items():
                assert got[digest] == content, (repo, digest)
                assert hashlib.sha256(got[digest]).hexdigest() == digest.split(":")[1]
        with second.client() as c2:
            assert {repo: _findings(c2, repo, "v1") for repo in images} == before
            assert c2.get("/api/v1/configuration").json() == config
            assert c2.get("/api/v1/registry/scanning-configuration").json() == scanning
            assert c2.get("/v2/apps/beta/tags/list").json()["tags"] == ["stable", "v1"]
            late_answer = c2.get("/v2/apps/late/manifests/v1")
            assert late_answer.status_code == 404  # pushed after the snapshot: not in it
            tags = c2.get("/v2/apps/busy/tags/list")
            restored_busy = tags.json()["tags"] if tags.status_code == 200 else []
            assert set(restored_busy) <= set(busy)
            for tag in restored_busy:  # whatever the snapshot holds pulls completely
                m = c2.get(f"/v2/apps/busy/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})  # fmt: skip
                assert m.status_code == 200
                doc = m.json()
                for d in [doc["config"]["digest"], *(x["digest"] for x in doc["layers"])]:
                    blob = c2.get(f"/v2/apps/busy/blobs/{d}")
                    assert blob.status_code == 200 and sha256(blob.content) == d
            events = c2.get("/api/v1/audit", params={"action": "PUT /api/v1/configuration"})
            assert len(events.json()["auditEvents"]) == 1
    finally:
        second.stop()
