"""`dockwatch migrate-store`: a single-node data folder copied to another database (SQLite
here; the code is dialect-neutral) and an S3 bucket, verified, then served from the copy."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.e2e.test_processes import START, _advisory_folder, _until
from tests.support.cli import db_import, dockwatch
from tests.support.s3 import S3Server
from tests.support.servers import start_dockwatch

OCI = "application/vnd.oci.image.manifest.v1+json"


def _findings(c: Any, repo: str) -> set[str]:
    body = c.get(f"/api/v1/repositories/{repo}/images/v1/findings").json()
    return {
        f["packageVulnerabilityDetails"]["vulnerabilityId"]
        for f in body["imageScanFindings"].get("enhancedFindings", [])
    }


def test_copy_to_database_and_bucket_then_serve_from_them(
    tmp_path: Path, s3_server: S3Server
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db_import(data, _advisory_folder(tmp_path))
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
            assert _until(lambda: _findings(c, "moved/app")) == {"PYSEC-2026-901"}
    finally:
        server.stop()

    bucket = s3_server.new_bucket()
    target_db = f"sqlite:///{tmp_path / 'target.db'}"
    out = dockwatch(
        "migrate-store", "--from", str(data), "--to-database", target_db,
        "--to-blobs", f"s3://{bucket}/moved", env=s3_server.env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.strip().endswith("verified")
    counts = {
        line.split()[0]: (int(line.split()[1]), int(line.split()[2]))
        for line in out.stdout.splitlines()[1:]
        if len(line.split()) == 3 and line.split()[1].isdigit()
    }
    assert counts["repositories"][0] >= 1 and all(s == t for s, t in counts.values())
    # the bucket holds every blob of the image, byte for byte
    client = s3_server.client()
    for digest, blob in ((layer.digest, layer.blob),):
        key = f"moved/blobs/sha256/{digest[7:9]}/{digest[7:]}"
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == blob
    # a second run refuses: the target is not empty
    again = dockwatch(
        "migrate-store", "--from", str(data), "--to-database", target_db,
        "--to-blobs", f"s3://{bucket}/moved", env=s3_server.env,
    )  # fmt: skip
    assert again.returncode == 2 and "not empty" in again.stderr

    # served from the copy: same image, same findings
    env = {**s3_server.env, "DOCKWATCH_DATABASE_URL": target_db,
           "DOCKWATCH_BLOB_URL": f"s3://{bucket}/moved"}  # fmt: skip
    copy = start_dockwatch(tmp_path / "cache", env=env, startup_timeout=START)
    try:
        with copy.client() as c:
            r = c.get("/v2/moved/app/manifests/v1", headers={"Accept": OCI})
            assert r.status_code == 200 and r.content == image.manifest
            r = c.get(f"/v2/moved/app/blobs/{layer.digest}")
            assert hashlib.sha256(r.content).hexdigest() == layer.digest[7:]
            assert _findings(c, "moved/app") == {"PYSEC-2026-901"}
    finally:
        copy.stop()
