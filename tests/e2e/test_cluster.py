"""A scaled-out install: two API processes (`serve --no-worker`) and two workers on one
PostgreSQL database and one S3 bucket, each process with its own data folder (local caches).

One install serves the module (starting processes is what costs): its two API processes run
for every test, and each test starts and kills its own workers. Pushed through one API and
pulled through the other byte for byte; findings seen through both; a worker killed with
SIGKILL in the middle of a scan, or of a delta rescan after an advisory update, leaves its job
to the other worker once the lease runs out, and the findings are written once."""

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
import zstandard
from packaging.version import Version

from dockwatch.events.eventbridge import event_id
from tests.builders.layers import Image, make_image, make_layer, write_oci_layout
from tests.support.cli import dockwatch
from tests.support.postgres import PostgresCluster
from tests.support.s3 import S3Server
from tests.support.servers import Server, Worker, start_dockwatch, start_worker
from tests.support.skopeo import copy
from tests.support.webhooks import ACCOUNT, DETAIL_TYPES, REGION, SECRET, Receiver

pytestmark = pytest.mark.xdist_group("cluster")

START = 120.0  # a loaded machine may take this long to start a process (imports, migration)
LEASE = 5  # seconds: short, so a killed worker's job is claimed again soon
PACKAGES = 3000  # installed packages in the image: a scan long enough to be caught running
DELTA_PACKAGES = 800  # packages an advisory update names: a delta long enough to be caught
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


def _image_of(packages: dict[str, str]) -> Image:
    """One layer with these Python packages installed (name -> version)."""
    files: dict[str, bytes | str] = {}
    for name, ver in packages.items():
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
        files[f"usr/lib/python3/site-packages/{name}-{ver}.dist-info/METADATA"] = meta
    return make_image([make_layer(files)])


def _image(vulnerable: str, version: str) -> Image:
    """One layer with many Python packages installed, `vulnerable` among them."""
    packages = {f"filler{i:05d}": "1.0" for i in range(PACKAGES)}
    return _image_of({**packages, vulnerable: version})


def _advisory(
    vid: str, package: str, fixed: str, modified: str = "2026-11-01T00:00:00Z"
) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": modified,
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


def _query(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of one query on the shared database."""
    import psycopg

    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(sql.encode(), params).fetchall()]


def _jobs(url: str, kind: str, *, repository: str | None = None, after: int = 0) -> list[Any]:
    """(state, attempts) of every job of `kind` (about `repository`, or queued after job id
    `after`), read straight from the shared database."""
    rows = _query(
        url,
        "SELECT state, attempts, payload FROM jobs WHERE kind = %s AND id > %s ORDER BY id",
        kind,
        after,
    )
    return [
        (str(state), int(attempts))
        for state, attempts, payload in rows
        if repository is None or json.loads(payload).get("repository") == repository
    ]


def _last_job(url: str) -> int:
    return int(_query(url, "SELECT coalesce(max(id), 0) FROM jobs")[0][0])


def _findings(c: httpx.Client, repo: str, ref: str) -> list[str]:
    """Vulnerability ids of the image's findings, one entry per finding (repeats kept)."""
    return [vid for vid, _ in _finding_pairs(c, repo, ref)]


def _finding_pairs(c: httpx.Client, repo: str, ref: str) -> list[tuple[str, str]]:
    """(vulnerability id, package name) of each of the image's findings, sorted, repeats kept."""
    r = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings")
    assert r.status_code == 200, r.text
    return sorted(
        (f["packageVulnerabilityDetails"]["vulnerabilityId"], package["name"])
        for f in r.json()["imageScanFindings"]["enhancedFindings"]
        for package in f["packageVulnerabilityDetails"]["vulnerablePackages"]
    )


def _deliverable(url: str, hook_id: str) -> set[str]:
    """Event ids of every outbox row the webhook must receive, read from the shared database
    (those after its creation; a tag change its push reports is not sent on its own)."""
    ((start,),) = _query(url, "SELECT start_after_id FROM webhooks WHERE id = %s", hook_id)
    rows = _query(
        url, "SELECT id, event_type, payload, events, packed FROM outbox WHERE id > %s", start
    )
    ids = []
    for i, t, p, n, packed in rows:
        if packed is None:
            if t in DETAIL_TYPES and not json.loads(p).get("withManifest"):
                ids.append(int(i))
            continue
        # a batch row of finding events: one line per event, the row's id is its last event's
        lines = zstandard.ZstdDecompressor().decompress(bytes(packed)).split(b"\n")
        assert len(lines) == n
        ids.extend(
            int(i) - n + 1 + k
            for k, line in enumerate(lines)
            if json.loads(line)[0] in DETAIL_TYPES
        )
    return {event_id(ACCOUNT, REGION, i) for i in ids if i > start}


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

    def stop_workers(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        for s in self.apis:
            s.stop()


@pytest.fixture(scope="module")
def install(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_cluster: PostgresCluster,
) -> Iterator[Cluster]:
    """The module's install: a database, a bucket and two API processes, enhanced scanning on."""
    pytest.importorskip(
        "moto.server", reason="moto[server] not installed (pip install -e '.[test]')"
    )
    s3: S3Server = request.getfixturevalue("s3_server")
    url = postgres_cluster.create_database()
    made = Cluster(tmp_path_factory.mktemp("cluster"), url, s3, s3.new_bucket())
    try:
        made.api("api1")
        made.api("api2")
        with made.apis[0].client() as c:
            config = {"scanType": "ENHANCED", "rules": []}
            assert c.put("/api/v1/registry/scanning-configuration", json=config).status_code == 200
        yield made
    finally:
        made.stop()
        postgres_cluster.drop_database(url)


@pytest.fixture
def cluster(install: Cluster) -> Iterator[Cluster]:
    """The install for one test: the workers the test starts are stopped after it."""
    try:
        yield install
    finally:
        install.stop_workers()


@pytest.fixture
def receiver(cluster: Cluster) -> Iterator[tuple[Receiver, str]]:
    """A webhook receiver subscribed to every event from now on, and its subscription id
    (unsubscribed after the test, so the next test's events are not sent to it)."""
    # the tests kill workers, which deliver: a delivery cut mid-body is sent again whole
    made = Receiver(sender_may_die=True)
    with cluster.apis[1].client() as c:
        hook = c.post("/api/v1/webhooks", json={"url": made.url, "secret": SECRET})
        assert hook.status_code in (200, 201), hook.text
        hook_id = str(hook.json()["webhookId"])
        try:
            yield made, hook_id
        finally:
            c.delete(f"/api/v1/webhooks/{hook_id}")
            made.stop()


def _delivered_once(cluster: Cluster, receiver: Receiver, hook_id: str) -> set[str]:
    """Wait until every event the webhook must receive has arrived; check each arrived under
    one id with one body, every signature good. Returns the event ids."""
    expected = _deliverable(cluster.database_url, hook_id)
    _until(lambda: set(receiver.delivered()) == expected, what="webhook deliveries")
    assert receiver.bad == []
    assert {c.rsplit(" ", 1)[1] for c in receiver.cut} <= expected
    assert all(len(bodies) == 1 for bodies in receiver.all_bodies().values())
    return expected


def test_two_apis_two_workers_share_one_database_and_bucket(
    cluster: Cluster, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    cluster.import_advisories(_advisory("PYSEC-9-1", "gamma", "2.0"))
    api1, api2 = cluster.apis
    first = cluster.worker("worker1")
    with api1.client() as c1, api2.client() as c2:
        image = _image("gamma", "1.0")
        src = write_oci_layout(tmp_path / "src", [image])
        home = tmp_path / "home"
        copy(
            f"oci:{src}:latest", f"docker://{api1.host}/team/app:v1", home=home, dest_auth=api1.auth
        )
        # the only worker claims the scan: kill it outright while the scan runs
        url = cluster.database_url

        def scans() -> list[Any]:
            return _jobs(url, "scan", repository="team/app")

        _until(lambda: ("running", 1) in scans(), what="scan claimed")
        first.stop(signal.SIGKILL)
        assert scans() == [("running", 1)]
        cluster.worker("worker2")
        # the second worker takes the job once the lease has run out, and finishes it
        _until(lambda: scans() == [("done", 2)], what="scan done by the second worker")
        assert _scan_status(c2, "team/app", image.digest) == "SUCCESSFUL"
        # the finding, once, through either API
        assert _findings(c1, "team/app", "v1") == ["PYSEC-9-1"]
        assert _findings(c2, "team/app", image.digest) == ["PYSEC-9-1"]
        assert _scan_status(c1, "team/app", image.digest) == "SUCCESSFUL"
    # every event reaches the webhook, each under one id with one body, across the kill
    delivered = _delivered_once(cluster, *receiver)
    assert len(delivered) >= 2  # at least the push and the scan's completion
    # pulled through the other API, byte for byte
    out = tmp_path / "pulled"
    copy(f"docker://{api2.host}/team/app:v1", f"oci:{out}:latest", home=home, src_auth=api2.auth)
    original, pulled = _layout_blobs(src), _layout_blobs(out)
    assert pulled == original
    for digest, data in pulled.items():
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


def _affected(version: str, fixed: str) -> bool:
    """The advisories here say: every version before `fixed` is affected."""
    return Version(version) < Version(fixed)


def test_worker_killed_during_a_delta_rescan(
    cluster: Cluster, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    """An advisory update naming every package of two monitored images: the only worker is
    killed while it applies the delta; the other one applies it after the lease, and the
    findings are those a full match of each image against the advisories gives."""
    url = cluster.database_url
    names = [f"deltapkg{i:05d}" for i in range(DELTA_PACKAGES)]
    images = {  # repository -> installed packages
        "delta/plain": dict.fromkeys(names, "1.0"),
        "delta/patched": {n: "3.0" if i % 3 == 0 else "1.0" for i, n in enumerate(names)},
    }
    before = [  # what is known when the images are pushed
        _advisory("PYSEC-7-0", names[0], "2.0"),  # closed by the update (fixed moves to 0.5)
        _advisory("PYSEC-7-1", names[1], "2.0"),  # not in the update: stays open
    ]
    update = [_advisory("PYSEC-7-0", names[0], "0.5", "2026-11-02T00:00:00Z")] + [
        _advisory(f"PYSEC-8-{i}", n, "2.0" if i % 5 == 0 else "0.5")  # a fifth affect 1.0
        for i, n in enumerate(names)
    ]
    cluster.import_advisories(*before)
    first = cluster.worker("worker-delta1")
    api1, api2 = cluster.apis
    home = tmp_path / "home"
    digests = {}
    with api1.client() as c1, api2.client() as c2:
        for repo, packages in images.items():
            image = _image_of(packages)
            digests[repo] = image.digest
            src = write_oci_layout(tmp_path / repo.replace("/", "-"), [image])
            copy(f"oci:{src}:latest", f"docker://{api1.host}/{repo}:v1", home=home,
                 dest_auth=api1.auth)  # fmt: skip
        _until(
            lambda: all(_scan_status(c2, r, d) == "SUCCESSFUL" for r, d in digests.items()),
            what="the images' scans",
        )
        assert _finding_pairs(c1, "delta/plain", "v1") == [
            ("PYSEC-7-0", names[0]),
            ("PYSEC-7-1", names[1]),
        ]
        # the update: its delta is applied by the only worker; kill it while it runs. A delta
        # of two images takes well under a poll's time, so the findings table is held (share
        # mode: reads go on, writes wait) until the worker has claimed the delta and is killed
        import psycopg

        mark = _last_job(url)

        def deltas() -> list[Any]:
            return _jobs(url, "delta", after=mark)

        with psycopg.connect(_psycopg_url(url)) as held:
            held.execute(b"LOCK TABLE findings IN SHARE MODE")
            cluster.import_advisories(*update)
            _until(lambda: ("running", 1) in deltas(), what="delta claimed")
            first.stop(signal.SIGKILL)
            assert deltas() == [("running", 1)]
            held.rollback()
        cluster.worker("worker-delta2")
        _until(lambda: deltas() == [("done", 2)], what="delta applied by the second worker")
        # the findings a full match gives, computed here from the advisories' ranges
        final = {a["id"]: a for a in [*before, *update]}  # the update replaces PYSEC-7-0
        found: dict[str, list[tuple[str, str]]] = {}
        for repo, packages in images.items():
            expected = sorted(
                (vid, rec["affected"][0]["package"]["name"])
                for vid, rec in final.items()
                if _affected(
                    packages[rec["affected"][0]["package"]["name"]],
                    rec["affected"][0]["ranges"][0]["events"][1]["fixed"],
                )
            )
            assert len(expected) > DELTA_PACKAGES // 10
            found[repo] = _finding_pairs(c1, repo, "v1")
            assert found[repo] == expected
            assert _finding_pairs(c2, repo, digests[repo]) == expected
    # applied once in effect: one completion for the update's version, opening exactly the
    # findings the update adds and closing the one it withdrew, and every event delivered once
    ((payload,),) = _query(url, "SELECT payload FROM jobs WHERE kind = 'delta' AND id > %s", mark)
    version = json.loads(payload)["version"]
    completions = [
        p
        for (raw,) in _query(url, "SELECT payload FROM outbox WHERE event_type = 'RescanCompleted'")
        if (p := json.loads(raw))["version"] == version
    ]
    assert len(completions) == 1
    added = sum(1 for pairs in found.values() for vid, _ in pairs if vid.startswith("PYSEC-8-"))
    assert (completions[0]["findingsOpened"], completions[0]["findingsClosed"]) == (added, 1)
    _delivered_once(cluster, *receiver)
