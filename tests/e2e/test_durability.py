"""Crashes, full disks and gc: nothing completed is lost, nothing partial becomes visible."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conformance.oci import DOCKER_V2, config_blob, image_manifest, sha256, with_digest
from tests.support.programs import require
from tests.support.servers import Server, start_dockwatch


def _db(server_data: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{server_data / 'dockwatch.db'}?mode=ro", uri=True)


def _push_image(
    c: httpx.Client, name: str, tag: str, layers: list[bytes], seed: str
) -> tuple[str, bytes]:
    config = config_blob(seed)
    for blob in [config, *layers]:
        loc = c.post(f"/v2/{name}/blobs/uploads/").headers["location"]
        half = len(blob) // 2
        loc = c.patch(loc, content=blob[:half], headers={"Content-Range": f"0-{half - 1}"}).headers[
            "location"
        ]
        r = c.put(with_digest(loc, sha256(blob)), content=blob[half:])
        assert r.status_code == 201, r.text
    manifest = image_manifest(config, layers)
    r = c.put(f"/v2/{name}/manifests/{tag}", content=manifest, headers={"Content-Type": DOCKER_V2})
    assert r.status_code == 201, r.text
    return sha256(manifest), manifest


def _verify_visible_blobs(server: Server) -> int:
    """Every blob row has a file whose bytes hash to its digest; returns how many."""
    with contextlib.closing(_db(server.data)) as db:
        digests = [r[0] for r in db.execute("SELECT digest FROM blobs")]
    for d in digests:
        algo, _, hexd = d.partition(":")
        path = server.data / "blobs" / algo / hexd[:2] / hexd
        assert hashlib.new(algo, path.read_bytes()).hexdigest() == hexd, d
    return len(digests)


@pytest.mark.slow
def test_sigkill_during_concurrent_pushes(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    data = tmp_path / "data"
    server = start_dockwatch(data)
    completed: dict[str, tuple[str, bytes, list[bytes]]] = {}
    lock = threading.Lock()

    started: list[str] = []

    def pusher(i: int) -> None:
        # each client pushes image after image, so pushes are in flight whenever the kill lands
        for n in range(6):
            name = f"crash/img{i}-{n}"
            layers = [rng.randbytes(rng.randint(200_000, 3_000_000)) for _ in range(2)]
            with lock:
                started.append(name)
            try:
                with server.client(timeout=30) as c:
                    digest, manifest = _push_image(c, name, "v1", layers, f"s{i}-{n}")
            except Exception:  # noqa: BLE001 - the kill interrupts pushes in flight
                return
            with lock:
                completed[name] = (digest, manifest, layers)

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(completed) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.2))
    server.stop(signal.SIGKILL)
    for t in threads:
        t.join()
    done_at_kill = dict(completed)
    interrupted = [n for n in started if n not in done_at_kill]
    print(f"pushes completed before SIGKILL: {len(done_at_kill)}, interrupted: {len(interrupted)}")
    assert len(done_at_kill) >= 3 and interrupted, "the kill should land while pushes are in flight"

    restarted = start_dockwatch(data, port=server.port)
    try:
        with restarted.client() as c:
            for name, (_digest, manifest, layers) in done_at_kill.items():
                r = c.get(f"/v2/{name}/manifests/v1", headers={"Accept": DOCKER_V2})
                assert r.status_code == 200 and r.content == manifest, name
                for layer in layers:
                    assert c.get(f"/v2/{name}/blobs/{sha256(layer)}").content == layer
        with contextlib.closing(_db(data)) as db:
            pushed = {
                json.loads(p)["imageDigest"]
                for (p,) in db.execute(
                    "SELECT payload FROM outbox WHERE event_type = 'ManifestPushed'"
                )
            }
            uploads_left = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
        assert {d for d, _, _ in done_at_kill.values()} <= pushed
        _verify_visible_blobs(restarted)
    finally:
        restarted.stop()

    # gc removes the abandoned uploads (expiry 0 here) and keeps every completed image
    env = {**os.environ, "DOCKWATCH_UPLOAD_EXPIRY_SECONDS": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "dockwatch", "gc", "--data", str(data), "--grace-seconds", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    with contextlib.closing(_db(data)) as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0
    assert list((data / "uploads").iterdir()) == []
    removed_uploads = int(re.search(r"(\d+) uploads", out.stdout).group(1))  # type: ignore[union-attr]
    assert removed_uploads >= uploads_left > 0  # the interrupted pushes left sessions behind
    final = start_dockwatch(data, port=server.port)
    try:
        with final.client() as c:
            for name, (digest, manifest, layers) in done_at_kill.items():
                assert (
                    c.get(f"/v2/{name}/manifests/{digest}", headers={"Accept": DOCKER_V2}).content
                    == manifest
                )
                for layer in layers:
                    assert c.get(f"/v2/{name}/blobs/{sha256(layer)}").content == layer
        _verify_visible_blobs(final)
    finally:
        final.stop()


@contextlib.contextmanager
def _small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` mounted at `path` (root only; skips otherwise)."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill the disk needs root")
    r = subprocess.run(
        [require("mount"), "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run([require("umount"), "-l", str(path)], check=False)


def test_full_disk_during_push(tmp_path: Path) -> None:
    with _small_disk(tmp_path / "disk", 12) as disk:
        server = start_dockwatch(disk / "data")
        try:
            with server.client() as c:
                small = [b"small layer" * 1000]
                digest, manifest = _push_image(c, "disk/ok", "v1", small, "ok")
                big = random.Random(1).randbytes(16 * 1024 * 1024)
                loc = c.post("/v2/disk/big/blobs/uploads/").headers["location"]
                r = c.put(with_digest(loc, sha256(big)), content=big)
                assert 500 <= r.status_code < 600, r.text
                assert r.json()["errors"][0]["code"] in ("UNAVAILABLE", "UNKNOWN")
                assert c.head(f"/v2/disk/big/blobs/{sha256(big)}").status_code == 404
                # the failed request's bytes were dropped: the session is empty and space is back
                assert c.get(loc).headers["range"] == "0-0"
                assert (
                    c.get("/v2/disk/ok/manifests/v1", headers={"Accept": DOCKER_V2}).content
                    == manifest
                )
                _push_image(c, "disk/after", "v1", [b"fits again" * 1000], "after")
            _verify_visible_blobs(server)
        finally:
            server.stop()
