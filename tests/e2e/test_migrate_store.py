"""`dockwatch migrate-store`: a single-node data folder (SQLite + blob folder) copied to another
database (PostgreSQL, or SQLite) and an S3 bucket, verified, then served from the copy: the image
pulls byte for byte, findings and suppression rules read the same; a second run changes nothing;
a target holding other data is refused.

The source install is built once for the module (one server start); each target is a fresh
database and bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders.http_push import push_built_image
from tests.builders.layers import Image, make_image, make_layer
from tests.e2e.test_processes import START, _advisory_folder, _until
from tests.support.cli import db_import, dockwatch
from tests.support.s3 import S3Server
from tests.support.servers import start_dockwatch
from tests.support.skopeo import copy

OCI = "application/vnd.oci.image.manifest.v1+json"
RULE = {
    "action": "SUPPRESS",
    "name": "mute-gamma",
    "reason": "not reachable",
    "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "PYSEC-2026-901"}]},
}


def _findings(c: Any, repo: str) -> list[dict[str, Any]]:
    body = c.get(f"/api/v1/repositories/{repo}/images/v1/findings").json()
    return list(body["imageScanFindings"].get("enhancedFindings", []))


def _rules(c: Any) -> list[dict[str, Any]]:
    r = c.get("/api/v1/suppression-rules")
    assert r.status_code == 200, r.text
    return list(r.json()["filters"])


@dataclass(frozen=True)
class Source:
    """A stopped single-node install and what its API answered before it stopped."""

    data: Path
    image: Image
    findings: list[dict[str, Any]]
    rules: list[dict[str, Any]]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    root = tmp_path_factory.mktemp("source")
    data = root / "data"
    data.mkdir()
    db_import(data, _advisory_folder(root))
    meta = "Metadata-Version: 2.1\nName: gamma\nVersion: 1.5\n"
    layer = make_layer({"usr/lib/python3/site-packages/gamma-1.5.dist-info/METADATA": meta})
    image = make_image([layer])
    server = start_dockwatch(data, startup_timeout=START)
    try:
        with server.client() as c:
            c.put(
                "/api/v1/registry/scanning-configuration",
                json={"scanType": "ENHANCED", "rules": []},
            )
            push_built_image(c, "moved/app", image, ["v1"])
            _until(lambda: _findings(c, "moved/app"))
            assert c.post("/api/v1/suppression-rules", json=RULE).status_code == 201
            findings = _until(
                lambda: [f for f in _findings(c, "moved/app") if f["status"] == "SUPPRESSED"]
            )
            assert [f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in findings] == [
                "PYSEC-2026-901"
            ]
            return Source(data, image, _findings(c, "moved/app"), _rules(c))
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def target_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database: a SQLite file, or an empty database of the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
    else:
        yield str(request.getfixturevalue("postgres_url"))


def _migrate_store(source: Path, database: str, blobs: str, s3: S3Server) -> Any:
    return dockwatch(
        "migrate-store", "--from", str(source), "--to-database", database, "--to-blobs", blobs,
        env=s3.env,
    )  # fmt: skip


def _counts(stdout: str) -> dict[str, tuple[int, int]]:
    """table -> (source rows, target rows) from the command's report."""
    return {
        parts[0]: (int(parts[1]), int(parts[2]))
        for line in stdout.splitlines()
        if len(parts := line.split()) == 3 and parts[1].isdigit() and parts[2].isdigit()
    }


def test_copy_to_database_and_bucket_then_serve_from_them(
    source: Source, target_database: str, tmp_path: Path, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    blobs = f"s3://{bucket}/moved"
    out = _migrate_store(source.data, target_database, blobs, s3_server)
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.strip().endswith("verified")
    counts = _counts(out.stdout)
    assert counts["repositories"][0] >= 1 and counts["suppression_rules"][0] == 1
    assert all(s == t for s, t in counts.values())
    # the bucket holds every blob of the image (its manifest lives in the database)
    client = s3_server.client()
    stored = {d: b for d, b in source.image.blobs().items() if b != source.image.manifest}
    for digest, blob in stored.items():
        key = f"moved/blobs/sha256/{digest[7:9]}/{digest[7:]}"
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == blob
    # a second run finds its own copy: nothing written, verified again
    again = _migrate_store(source.data, target_database, blobs, s3_server)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "already holds this copy" in again.stdout
    assert f"blobs: 0 copied, {len(stored)} already present" in again.stdout
    assert _counts(again.stdout) == counts and again.stdout.strip().endswith("verified")

    # served from the copy: the image pulls byte for byte, findings and rules read the same
    env = {**s3_server.env, "DOCKWATCH_DATABASE_URL": target_database, "DOCKWATCH_BLOB_URL": blobs}
    served = start_dockwatch(tmp_path / "cache", env=env, startup_timeout=START)
    try:
        with served.client() as c:
            r = c.get("/v2/moved/app/manifests/v1", headers={"Accept": OCI})
            assert r.status_code == 200 and r.content == source.image.manifest
            pulled = tmp_path / "pulled"
            copy(f"docker://{served.host}/moved/app:v1", f"oci:{pulled}:v1",
                 home=tmp_path / "home", src_auth=served.auth)  # fmt: skip
            for digest, blob in source.image.blobs().items():
                path = pulled / "blobs" / "sha256" / digest[7:]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == digest[7:]
                assert path.read_bytes() == blob
            assert _findings(c, "moved/app") == source.findings
            assert _rules(c) == source.rules
            # the new install takes a write: the copy now differs from the data folder
            assert c.delete(f"/api/v1/suppression-rules/{source.rules[0]['id']}").is_success
    finally:
        served.stop()
    refused = _migrate_store(source.data, target_database, blobs, s3_server)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("dockwatch: error: the target database is not empty")
    assert "does not hold a copy of this data folder" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
