"""What a push and a pull ask of an S3 blob store (moto's server, S3 wire protocol), seen from
the store's client: a pushed blob's bytes go to the bucket once, a pulled blob is opened
without asking the bucket first whether it holds it, and a blob whose object is gone is a
404 BLOB_UNKNOWN, not a broken 200."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.model.digest import Digest
from dockwatch.storage.blobs.s3 import S3BlobStore
from tests.support.s3 import S3Calls, S3Server

from .conftest import client_for, make_services

pytestmark = pytest.mark.anyio


@pytest.fixture
def s3_services(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.new_bucket()
    built = make_services(tmp_path, blob_url=f"s3://{bucket}/registry")
    yield built
    built.close()


async def _push_blob(client: httpx.AsyncClient, name: str, data: bytes) -> Digest:
    digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
    r = await client.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202, r.text
    r = await client.put(r.headers["location"], params={"digest": digest}, content=data)
    assert r.status_code == 201, r.text
    return digest


async def test_a_blob_goes_to_the_bucket_once_and_is_pulled_without_a_head(
    s3_services: Services,
) -> None:
    store = s3_services.registry.ctx.blobs
    assert isinstance(store, S3BlobStore)
    data = os.urandom(3 << 20)
    async with client_for(create_app(s3_services)) as client:
        calls = S3Calls(store.client)
        digest = await _push_blob(client, "app/web", data)
        puts = calls.named("PutObject")
        assert [size for _, _, size in puts if size] == [len(data)], puts
        assert [key for _, key, size in puts if size] == [store.blob_key(digest)]
        assert calls.named("GetObject") == []

        calls.seen.clear()
        r = await client.get(f"/v2/app/web/blobs/{digest}")
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-length"] == str(len(data))
        assert [c[0] for c in calls.seen] == ["GetObject"]
        r = await client.get(f"/v2/app/web/blobs/{digest}", headers={"Range": "bytes=10-19"})
        assert r.status_code == 206 and r.content == data[10:20]
        assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
        r = await client.head(f"/v2/app/web/blobs/{digest}")
        assert r.status_code == 200 and r.headers["content-length"] == str(len(data))


async def test_a_blob_whose_object_is_gone_is_unknown(s3_services: Services) -> None:
    store = s3_services.registry.ctx.blobs
    assert isinstance(store, S3BlobStore)
    async with client_for(create_app(s3_services)) as client:
        kept = await _push_blob(client, "app/web", b"kept bytes")
        gone = await _push_blob(client, "app/web", b"bytes removed behind the registry")
        store.client.delete_object(Bucket=store.bucket, Key=store.blob_key(gone))
        for method in ("GET", "HEAD"):
            r = await client.request(method, f"/v2/app/web/blobs/{gone}")
            assert r.status_code == 404, (method, r.text)
        r = await client.get(f"/v2/app/web/blobs/{gone}")
        assert r.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
        r = await client.get(f"/v2/app/web/blobs/{kept}", headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"kept"


async def test_a_bucket_gone_is_unavailable_not_an_unknown_error(
    s3_services: Services, s3_server: S3Server
) -> None:
    """When the bucket refuses the requests a push and a pull need, they answer 503
    UNAVAILABLE naming the store's error (they were 500 UNKNOWN), and `/healthz` says so."""
    store = s3_services.registry.ctx.blobs
    assert isinstance(store, S3BlobStore)
    async with client_for(create_app(s3_services)) as client:
        digest = await _push_blob(client, "app/web", b"pushed before the bucket went")
        bucket = s3_server.client()
        for o in bucket.list_objects_v2(Bucket=store.bucket).get("Contents", []):
            bucket.delete_object(Bucket=store.bucket, Key=o["Key"])
        bucket.delete_bucket(Bucket=store.bucket)
        for answer in (
            await client.get(f"/v2/app/web/blobs/{digest}"),
            await client.post("/v2/app/web/blobs/uploads/"),
        ):
            assert answer.status_code == 503, answer.text
            error = answer.json()["errors"][0]
            assert error["code"] == "UNAVAILABLE"
            assert "NoSuchBucket" in error["message"], error
