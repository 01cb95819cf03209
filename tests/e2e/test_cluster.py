"""A scaled-out install: two API processes (`serve --no-worker`) and two workers on one
PostgreSQL database and one S3 bucket, each process with its own data folder (local caches).

Pushed through one API and pulled through the other byte for byte; findings seen through both;
a worker killed with SIGKILL in the middle of a scan leaves its job to the other worker once
the lease runs out, and the finding is written once."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from dockwatch.events.eventbridge import event_id
from tests.builders.layers import Image, make_image, make_layer, write_oci_layout
from tests.e2e.test_webhooks import ACCOUNT, DETAIL_TYPES, REGION, SECRET, Receiver
from tests.support.cli import dockwatch
from tests.support.s3 import S3Server
from tests.support.servers import Server, Worker, start_dockwatch, start_worker
from tests.support.skopeo import copy

pytestmark = pytest.mark.xdist_group("cluster")

START = 120.0  # a loaded machine may take this long to start a process (imports, migration)
LEASE = 5  # seconds: short, so a killed worker's job is claimed again soon
PACKAGES = 3000  # installed packages in the image: a scan long enough to be caught running
T = TypeVar("T")


def _until(check: Callable[[], T], timeout: float = 300, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.02)


def _image(vulnerable: str, version: str) -> Image:
    """One layer with many Python packages installed, `vulnerable` among them."""
    files: dict[str, bytes | str] = {}
    names = [f"filler{i:05d}" for i in range(PACKAGES)] + [vulnerable]
    for name in names:
        ver = version if name == vulnerable else "1.0"
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
        files[f"usr/lib/python3/site-packages/{name}-{ver}.dist-info/METADATA"] = meta
    return make_image([make_layer(files)])


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


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _jobs(url: str, kind: str) -> list[tuple[str, int]]:
    """(state, attempts) of every job of `kind`, read straight from the shared database."""
    import psycopg

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, attempts FROM jobs WHERE kind = %s ORDER BY id", (kind,)
        ).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def _findings(c: httpx.Client, repo: str, ref: str) -> list[str]:
    """Vulnerability ids of the image's findings, one entry per finding (repeats kept)."""
    r = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings")
    assert r.status_code == 200, r.text
    return [
        f["packageVulnerabilityDetails"]["vulnerabilityId"]
        for f in r.json()["imageScanFindings"]["enhancedFindings"]
    ]


def _deliverable(url: str) -> set[str]:
    """Event ids of every deliverable outbox row, read from the shared database (a tag change
    its push reports is not sent on its own)."""
    import psycopg

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        rows = conn.execute("SELECT id, event_type, payload FROM outbox ORDER BY id").fetchall()
    return {
        event_id(ACCOUNT, REGION, int(i))
        for i, t, p in rows
        if t in DETAIL_TYPES and not json.loads(p).get("withManifest")
    }


def _scan_status(c: httpx.Client, repo: str, digest: str) -> str | None:
    items = c.get("/api/v1/coverage", params={"repositoryName": repo}).json()["coveredResources"]
    for item in items:
        if item["resourceId"].rsplit("/", 1)[1] == digest:
            return str(item["scanStatus"]["reason"])
    return None


def _layout_blobs(layout: Path) -> dict[str, bytes]:
    return {
        f"{algo.name}:{f.name}": f.read_bytes()
        for algo in (layout / "blobs").iterdir()
        for f in algo.iterdir()
    }


class Cluster:
    """The shared settings every process of the install gets, and the processes started."""

    def __init__(self, root: Path, database_url: str, s3: S3Server, bucket: str) -> None:
        self.root = root
        self.database_url = database_url
        self.env = {
            **s3.env,
            "DOCKWATCH_DATABASE_URL": database_url,
            "DOCKWATCH_BLOB_URL": f"s3://{bucket}/registry",
            "DOCKWATCH_WEBHOOK_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "DOCKWATCH_JOB_LEASE_SECONDS": str(LEASE),
            "DOCKWATCH_WEBHOOK_ALLOW": "127.0.0.1/32",  # the test's receiver
        }
        self.apis: list[Server] = []
        self.workers: list[Worker] = []

    def api(self, name: str) -> Server:
        server = start_dockwatch(
            self.root / name, env=self.env, extra_args=("--no-worker",), startup_timeout=START
        )
        self.apis.append(server)
        return server

    def worker(self, name: str) -> Worker:
        worker = start_worker(self.root / name, env=self.env)
        self.workers.append(worker)
        return worker

    def import_advisories(self, *records: dict[str, Any]) -> None:
        """`dockwatch db import` from a data folder of its own, into the shared database."""
        folder = self.root / f"adv{time.monotonic_ns()}"
        folder.mkdir()
        for rec in records:
            (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
        out = dockwatch(
            "db", "import", "--data", str(self.root / "importer"), str(folder), env=self.env
        )
        assert out.returncode == 0, out.stderr

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        for s in self.apis:
            s.stop()


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    pytest.importorskip(
        "moto.server", reason="moto[server] not installed (pip install -e '.[test]')"
    )
    s3: S3Server = request.getfixturevalue("s3_server")
    made = Cluster(tmp_path, postgres_url, s3, s3.new_bucket())
    try:
        yield made
    finally:
        made.stop()


def test_two_apis_two_workers_share_one_database_and_bucket(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.import_advisories(_advisory("PYSEC-9-1", "gamma", "2.0"))
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    first = cluster.worker("worker1")
    receiver = Receiver()
    with api1.client() as c1, api2.client() as c2:
        hook = c2.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET})
        assert hook.status_code in (200, 201), hook.text
        config = {"scanType": "ENHANCED", "rules": []}
        assert c1.put("/api/v1/registry/scanning-configuration", json=config).status_code == 200
        image = _image("gamma", "1.0")
        src = write_oci_layout(tmp_path / "src", [image])
        home = tmp_path / "home"
        copy(
            f"oci:{src}:latest", f"docker://{api1.host}/team/app:v1", home=home, dest_auth=api1.auth
        )
        # the only worker claims the scan: kill it outright while the scan runs
        _until(lambda: ("running", 1) in _jobs(cluster.database_url, "scan"), what="scan claimed")
        first.stop(signal.SIGKILL)
        assert _jobs(cluster.database_url, "scan") == [("running", 1)]
        cluster.worker("worker2")
        # the second worker takes the job once the lease has run out, and finishes it
        _until(lambda: _scan_status(c2, "team/app", image.digest) == "SUCCESSFUL", what="scan")
        assert _jobs(cluster.database_url, "scan") == [("done", 2)]
        # the finding, once, through either API
        assert _findings(c1, "team/app", "v1") == ["PYSEC-9-1"]
        assert _findings(c2, "team/app", image.digest) == ["PYSEC-9-1"]
        assert _scan_status(c1, "team/app", image.digest) == "SUCCESSFUL"
    # every event reaches the webhook, each under one id with one body, across the kill
    expected = _deliverable(cluster.database_url)
    assert len(expected) >= 2  # at least the push and the scan's completion
    _until(lambda: set(receiver.delivered()) == expected, what="webhook deliveries")
    receiver.stop()
    assert receiver.bad == []
    assert all(len(bodies) == 1 for bodies in receiver.all_bodies().values())
    # pulled through the other API, byte for byte
    out = tmp_path / "pulled"
    copy(f"docker://{api2.host}/team/app:v1", f"oci:{out}:latest", home=home, src_auth=api2.auth)
    original, pulled = _layout_blobs(src), _layout_blobs(out)
    assert pulled == original
    for digest, data in pulled.items():
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
