"""dockwatch on an S3-compatible store (moto's server, S3 wire protocol): skopeo round trips
through the proxy and the presigned redirect, and a chunked upload that moves between two API
processes sharing one data folder and one bucket."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders.layers import make_image, make_layer, write_oci_layout
from tests.support.s3 import S3Server
from tests.support.servers import Server, start_dockwatch
from tests.support.skopeo import copy

PART = 8 * 1024 * 1024  # the store's part size: the big layer spans more than one part

START = 300.0  # a loaded machine may take this long to start a server (imports)


def _env(s3: S3Server, bucket: str, redirect: str = "proxy") -> dict[str, str]:
    return {
        **s3.env,
        "DOCKWATCH_BLOB_URL": f"s3://{bucket}/registry",
        "DOCKWATCH_BLOB_REDIRECT": redirect,
    }


def _layout_blobs(layout: Path) -> dict[str, bytes]:
    return {
        f"{algo.name}:{f.name}": f.read_bytes()
        for algo in (layout / "blobs").iterdir()
        for f in algo.iterdir()
    }


def _bucket_blobs(s3: S3Server, bucket: str) -> set[str]:
    pages = (
        s3.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix="registry/blobs/")
    )
    return {"sha256:" + o["Key"].rsplit("/", 1)[1] for p in pages for o in p.get("Contents", [])}


@pytest.fixture(params=["proxy", "presigned"])
def s3_registry(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> Iterator[tuple[Server, str]]:
    bucket = s3_server.new_bucket()
    server = start_dockwatch(
        tmp_path / "data", env=_env(s3_server, bucket, request.param), startup_timeout=START
    )
    yield server, bucket
    server.stop()


def test_skopeo_round_trip_is_byte_identical(
    s3_registry: tuple[Server, str], s3_server: S3Server, tmp_path: Path
) -> None:
    server, bucket = s3_registry
    big = make_layer({"big.bin": os.urandom(PART + 3 * 1024 * 1024)})  # incompressible
    small = make_layer({"etc/hostname": "s3-test\n"})
    image = make_image([big, small])
    src = write_oci_layout(tmp_path / "src", [image])
    home = tmp_path / "home"
    copy(f"oci:{src}:latest", f"docker://{server.host}/s3/app:v1", home=home, dest_auth=server.auth)
    out = tmp_path / "pulled"
    copy(f"docker://{server.host}/s3/app:v1", f"oci:{out}:latest", home=home, src_auth=server.auth)
    original, pulled = _layout_blobs(src), _layout_blobs(out)
    assert pulled == original
    for digest, data in pulled.items():
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    # the bytes live in the bucket, not in the data folder
    stored = _bucket_blobs(s3_server, bucket)
    assert {
        big.digest,
        small.digest,
        "sha256:" + hashlib.sha256(image.config).hexdigest(),
    } <= stored
    assert list((server.data / "blobs").rglob("*/*/*")) == []
    with server.client(follow_redirects=False) as c:
        r = c.get(f"/v2/s3/app/blobs/{small.digest}")
    if server.extra_env["DOCKWATCH_BLOB_REDIRECT"] == "presigned":
        assert r.status_code == 307
        assert r.headers["location"].startswith(s3_server.endpoint)
        assert httpx.get(r.headers["location"]).content == small.blob
    else:
        assert r.status_code == 200 and r.content == small.blob
        with server.client() as c:  # byte ranges stream from the store too (resumed pulls)
            r = c.get(f"/v2/s3/app/blobs/{big.digest}", headers={"Range": "bytes=100-199"})
            assert r.status_code == 206 and r.content == big.blob[100:200]
            assert r.headers["content-range"] == f"bytes 100-199/{len(big.blob)}"
            r = c.get(f"/v2/s3/app/blobs/{big.digest}", headers={"Range": "bytes=-10"})
            assert r.status_code == 206 and r.content == big.blob[-10:]


def test_health_reports_the_blob_store(
    s3_registry: tuple[Server, str], s3_server: S3Server
) -> None:
    server, bucket = s3_registry
    body = httpx.get(f"{server.url}/healthz").json()
    assert (body["database"], body["blobStore"]) == ("ok", "ok")
    client = s3_server.client()
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    for o in objects:
        client.delete_object(Bucket=bucket, Key=o["Key"])
    client.delete_bucket(Bucket=bucket)
    r = httpx.get(f"{server.url}/healthz")
    assert r.status_code == 503
    assert r.json()["database"] == "ok" and r.json()["blobStore"].startswith("unavailable")


def test_upload_started_on_one_api_process_finishes_on_another(
    tmp_path: Path, s3_server: S3Server
) -> None:
    bucket = s3_server.new_bucket()
    env = _env(s3_server, bucket)
    data = tmp_path / "data"
    a = start_dockwatch(data, env=env, extra_args=("--no-worker",), startup_timeout=START)
    b = start_dockwatch(data, env=env, extra_args=("--no-worker",), startup_timeout=START)
    try:
        blob = os.urandom(PART + 1024 * 1024 + 17)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        first, second = blob[: PART + 5], blob[PART + 5 :]
        with a.client() as ca, b.client() as cb:
            r = ca.post("/v2/moved/app/blobs/uploads/")
            assert r.status_code == 202, r.text
            location = r.headers["location"]
            r = ca.patch(
                location, content=first, headers={"Content-Type": "application/octet-stream"}
            )
            assert r.status_code == 202 and r.headers["range"] == f"0-{len(first) - 1}"
            location = r.headers["location"]
            r = cb.get(location)  # the other process sees the upload's progress
            assert r.status_code == 204 and r.headers["range"] == f"0-{len(first) - 1}"
            r = cb.patch(
                location, content=second, headers={"Content-Type": "application/octet-stream"}
            )
            assert r.status_code == 202 and r.headers["range"] == f"0-{len(blob) - 1}"
            location = r.headers["location"]
            sep = "&" if "?" in location else "?"
            r = cb.put(f"{location}{sep}digest={digest}")
            assert r.status_code == 201, r.text
            for c in (ca, cb):
                r = c.get(f"/v2/moved/app/blobs/{digest}")
                assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest[7:]
        assert digest in _bucket_blobs(s3_server, bucket)
        assert (
            s3_server.client()
            .list_objects_v2(Bucket=bucket, Prefix="registry/uploads/")
            .get("KeyCount")
            == 0
        )
    finally:
        a.stop()
        b.stop()
