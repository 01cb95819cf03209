"""`dockwatch gc` against a data folder, alone and while pushes run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

from tests.conformance.oci import DOCKER_V2, push_image, sha256, upload
from tests.support.servers import Server


def _gc(server: Server, grace: int) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dockwatch",
            "gc",
            "--data",
            str(server.data),
            "--grace-seconds",
            str(grace),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gc_removes_only_unreferenced_blobs(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        kept, manifest = push_image(c, "gc/app", "v1")
        doc = json.loads(manifest)
        orphan = upload(c, "gc/app", b"uploaded but never referenced")
        gone, gone_manifest = push_image(c, "gc/old", "v1", seed="old")
        gone_layers = [layer["digest"] for layer in json.loads(gone_manifest)["layers"]]
        assert c.delete(f"/v2/gc/old/manifests/{gone}").status_code == 202
        print(_gc(dockwatch, grace=0))
        assert c.head(f"/v2/gc/app/blobs/{orphan}").status_code == 404
        for layer in gone_layers:
            assert c.head(f"/v2/gc/old/blobs/{layer}").status_code == 404
        for d in [doc["config"]["digest"], *(x["digest"] for x in doc["layers"])]:
            r = c.get(f"/v2/gc/app/blobs/{d}")
            assert r.status_code == 200 and sha256(r.content) == d
        assert c.get("/v2/gc/app/manifests/v1", headers={"Accept": DOCKER_V2}).content == manifest
    files = {p.name for p in (dockwatch.data / "blobs" / "sha256").glob("*/*")}
    assert orphan.split(":")[1] not in files
    assert kept  # the manifest itself lives in SQL, not among the blob files


def test_gc_while_pushes_run(dockwatch: Server) -> None:
    """With the default grace period, gc running in a loop never breaks a push in flight."""
    stop = threading.Event()
    failures: list[str] = []
    pushed: list[tuple[str, str, bytes]] = []

    def pusher(i: int) -> None:
        rng = random.Random(i)
        n = 0
        with dockwatch.client() as c:
            while not stop.is_set() and n < 15:
                try:
                    digest, manifest = push_image(
                        c, f"gc/busy{i}", f"t{n}", seed=f"{i}-{n}-{rng.random()}"
                    )
                    pushed.append((f"gc/busy{i}", digest, manifest))
                except AssertionError as exc:
                    failures.append(str(exc))
                n += 1

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for _ in range(3):
        _gc(dockwatch, grace=3600)
    stop.set()
    for t in threads:
        t.join()
    _gc(dockwatch, grace=3600)
    assert failures == []
    assert pushed
    with dockwatch.client() as c:
        for name, digest, manifest in pushed:
            assert (
                c.get(f"/v2/{name}/manifests/{digest}", headers={"Accept": DOCKER_V2}).content
                == manifest
            )
            for layer in json.loads(manifest)["layers"]:
                assert c.head(f"/v2/{name}/blobs/{layer['digest']}").status_code == 200


def test_gc_cli_on_an_empty_folder(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dockwatch", "gc", "--data", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert out.stdout.startswith("removed 0 blobs")
