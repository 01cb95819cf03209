"""SIGKILL of a real `dockwatch gc` process at several points of its run, next to a real server.

Whatever the moment of the kill, every blob a manifest references stays present and readable
(every image pulls byte-identical), a manifest can never be pushed over a blob whose file a
killed run already removed, and a later gc completes and leaves rows and files in agreement.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conformance.oci import (
    DOCKER_V2,
    config_blob,
    error_codes,
    image_manifest,
    push_image,
    upload,
)
from tests.support.servers import Server, start_dockwatch


def _blob_path(data: Path, digest: str) -> Path:
    algorithm, _, hexd = digest.partition(":")
    return data / "blobs" / algorithm / hexd[:2] / hexd


def _pull_all(
    server: Server, images: dict[tuple[str, str], tuple[bytes, dict[str, bytes]]]
) -> None:
    """Every kept image pulls back exactly as pushed: manifest and every blob it references."""
    with server.client() as c:
        for (name, tag), (manifest, blobs) in images.items():
            r = c.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": DOCKER_V2})
            assert r.status_code == 200 and r.content == manifest, (name, tag)
            doc = json.loads(manifest)
            for d in [doc["config"]["digest"], *(x["digest"] for x in doc["layers"])]:
                r = c.get(f"/v2/{name}/blobs/{d}")
                assert r.status_code == 200, (name, d)
                assert r.content == blobs[d], (name, d)


def _orphans(server: Server, c: httpx.Client, round_no: int) -> tuple[list[str], list[Path]]:
    """Blobs uploaded and never referenced (gc's SQL victims), and files no row knows."""
    payloads = [f"orphan {round_no}-{i} ".encode() * (1 + i % 7) for i in range(240)]
    with ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(lambda b: upload(c, f"gc/orphans{round_no % 2}", b), payloads))
    stray: list[Path] = []
    for i in range(1500):
        content = f"stray file {round_no}-{i}".encode()
        path = _blob_path(server.data, "sha256:" + hashlib.sha256(content).hexdigest())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        stray.append(path)
    return digests, stray


def _gc_process(server: Server) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockwatch",
            "gc",
            "--data",
            str(server.data),
            "--grace-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_when(
    proc: subprocess.Popen[bytes],
    reached: Callable[[list[str], list[Path]], bool],
    victims: list[str],
    stray: list[Path],
) -> bool:
    """SIGKILL `proc` as soon as `reached(victims, stray)` holds; False if it finished first."""
    while proc.poll() is None:
        if reached(victims, stray):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.001)
    return False


@pytest.mark.slow
def test_sigkill_during_gc_loses_nothing_referenced(tmp_path: Path) -> None:
    server = start_dockwatch(tmp_path / "data")
    try:
        shared = b"a base layer several images share " * 3000
        kept: dict[tuple[str, str], tuple[bytes, dict[str, bytes]]] = {}
        with server.client(timeout=60) as c:
            for i in range(6):
                layers = [shared, f"kept layer {i} ".encode() * (500 * (i + 1))]
                _, manifest = push_image(c, f"gc/kept{i % 3}", f"v{i}", f"kept-{i}", layers=layers)
                blobs = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in layers}
                blobs[json.loads(manifest)["config"]["digest"]] = config_blob(f"kept-{i}")
                kept[(f"gc/kept{i % 3}", f"v{i}")] = (manifest, blobs)
            for i in range(4):  # images deleted: their own layers go, the shared one stays
                layers = [shared, f"gone layer {i} ".encode() * 700]
                _, manifest = push_image(c, "gc/gone", f"v{i}", f"gone-{i}", layers=layers)
                digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
                assert c.delete(f"/v2/gc/gone/manifests/{digest}").status_code == 202

            kill_points: list[tuple[str, Callable[[list[str], list[Path]], bool]]] = [
                ("first victim file removed", lambda v, s: _gone(server, v) >= 1),
                ("most victim files removed", lambda v, s: _gone(server, v) >= len(v) * 2 // 3),
                ("stray files half removed", lambda v, s: sum(not p.exists() for p in s) >= 750),
            ]
            killed = 0
            for round_no, (point, reached) in enumerate(kill_points):
                victims, stray = _orphans(server, c, round_no)
                proc = _gc_process(server)
                if _kill_when(proc, reached, victims, stray):
                    killed += 1
                print(
                    f"{point}: killed={proc.returncode == -signal.SIGKILL}, "
                    f"victim files gone {_gone(server, victims)}/{len(victims)}"
                )
                _pull_all(server, kept)
                _no_push_over_a_removed_file(server, c, victims)
            assert killed >= 2, "the kills should land while gc runs"

        done = _gc_process(server)
        out, err = done.communicate(timeout=300)
        assert done.returncode == 0, err.decode()
        assert out.decode().startswith("removed ")
        _pull_all(server, kept)
        _rows_and_files_agree(server)
    finally:
        server.stop()


def _gone(server: Server, digests: list[str]) -> int:
    return sum(not _blob_path(server.data, d).exists() for d in digests)


def _no_push_over_a_removed_file(server: Server, c: httpx.Client, victims: list[str]) -> None:
    """A blob whose file a killed gc removed is unknown to clients, even if its rows came back
    with the rolled-back transaction: HEAD answers 404 and a manifest naming it is refused."""
    for d in victims:
        if _blob_path(server.data, d).exists():
            continue
        for repo in ("gc/orphans0", "gc/orphans1"):
            assert c.head(f"/v2/{repo}/blobs/{d}").status_code == 404
        config = config_blob("over-a-hole")
        upload(c, "gc/orphans0", config)
        doc = json.loads(image_manifest(config, []))
        doc["layers"] = [{"mediaType": doc["config"]["mediaType"], "digest": d, "size": 1}]
        r = c.put(
            "/v2/gc/orphans0/manifests/hole",
            content=json.dumps(doc).encode(),
            headers={"Content-Type": DOCKER_V2},
        )
        assert r.status_code == 400, r.text
        assert error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]
        return


def _rows_and_files_agree(server: Server) -> None:
    """After a completed gc every blob row has its file, with the right bytes, and vice versa."""
    with contextlib.closing(
        sqlite3.connect(f"file:{server.data / 'dockwatch.db'}?mode=ro", uri=True)
    ) as db:
        rows = {r[0] for r in db.execute("SELECT digest FROM blobs")}
    files = {f"sha256:{p.name}" for p in (server.data / "blobs" / "sha256").glob("*/*")}
    assert rows == files
    for d in rows:
        content = _blob_path(server.data, d).read_bytes()
        assert "sha256:" + hashlib.sha256(content).hexdigest() == d
