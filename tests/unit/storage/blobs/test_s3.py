"""The S3 blob store beyond the shared contract: parts, uploads moving between processes,
conditional commits and presigned URLs, against moto's server through the S3 wire protocol."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from dockwatch.errors import BackendUnavailable, InvalidInput
from dockwatch.model.digest import Digest
from dockwatch.storage.blobs.s3 import MIN_PART, S3BlobStore, S3Unavailable, parse_blob_url
from tests.support.s3 import S3Calls, S3Server
from tests.support.servers import free_port


def _d(data: bytes, algo: str = "sha256") -> Digest:
    return Digest(f"{algo}:{hashlib.new(algo, data).hexdigest()}")


def _pair(s3: S3Server) -> tuple[S3BlobStore, S3BlobStore]:
    """Two stores on one bucket, as two API processes would have (separate hashers)."""
    bucket = s3.new_bucket()
    return (
        S3BlobStore(s3.client(), bucket, "reg", part_size=MIN_PART),
        S3BlobStore(s3.client(), bucket, "reg", part_size=MIN_PART),
    )


def _keys(store: S3BlobStore, prefix: str) -> list[str]:
    return [o["Key"] for o in store.list_objects(store.prefix + prefix)]


def test_large_upload_is_stored_as_parts_and_read_back(s3_server: S3Server) -> None:
    a, _ = _pair(s3_server)
    data = os.urandom(2 * MIN_PART + 12345)
    w = a.writer("upload-big-0001", create=True)
    for i in range(0, len(data), 1 << 20):
        w.write(data[i : i + (1 << 20)])
    w.close()
    parts = [k for k in _keys(a, "uploads/upload-big-0001/") if "/part-" in k]
    assert len(parts) == 2  # two full parts, the rest in the tail
    info = a.writer("upload-big-0001").commit(_d(data))
    assert info.size == len(data)
    assert _keys(a, "uploads/") == []
    assert _keys(a, "blobs/") == [f"reg/blobs/sha256/{_d(data)[7:9]}/{_d(data)[7:]}"]
    with a.open(_d(data), offset=MIN_PART - 3) as f:
        assert f.read() == data[MIN_PART - 3 :]
    with a.open(_d(data), offset=len(data)) as f:
        assert f.read() == b""


def test_upload_started_on_one_process_finishes_on_another(s3_server: S3Server) -> None:
    a, b = _pair(s3_server)
    data = os.urandom(MIN_PART + 777)
    w = a.writer("upload-move-0001", create=True)
    w.write(data[:3000])
    w.close()  # end of the first PATCH on process A
    w = b.writer("upload-move-0001")
    assert w.size() == 3000
    w.write(data[3000:])
    w.close()  # second PATCH on process B
    w = a.writer("upload-move-0001")  # PUT back on A: its hasher is stale, rebuilt from the bucket
    assert w.commit(_d(data)).size == len(data)
    with b.open(_d(data)) as f:
        assert f.read() == data
    assert _keys(a, "uploads/") == []


def test_truncate_inside_a_flushed_part(s3_server: S3Server) -> None:
    a, b = _pair(s3_server)
    good = os.urandom(MIN_PART - 10)
    w = a.writer("upload-trunc-0001", create=True)
    w.write(good)
    w.write(b"x" * 100)  # crosses a part boundary: a part object is written
    w.truncate(len(good))  # the failed request's chunk is undone, part and all
    w.close()
    w = b.writer("upload-trunc-0001")
    assert w.size() == len(good)
    w.write(b"tail")
    w.commit(_d(good + b"tail"))
    with a.open(_d(good + b"tail")) as f:
        assert f.read() == good + b"tail"
    assert _keys(a, "uploads/") == []


def test_stale_tail_of_a_dead_process_is_ignored(s3_server: S3Server) -> None:
    a, b = _pair(s3_server)
    first = os.urandom(1000)
    w = a.writer("upload-dead-0001", create=True)
    w.write(first)
    w.close()  # tail-0 holds 1000 bytes
    more = os.urandom(MIN_PART)
    w = a.writer("upload-dead-0001")
    w.write(more)  # a part holding first+more is flushed; the process dies before close()
    w2 = b.writer("upload-dead-0001")
    assert w2.size() == len(first) + len(more)
    w2.write(b"end")
    w2.commit(_d(first + more + b"end"))
    with b.open(_d(first + more + b"end")) as f:
        assert f.read() == first + more + b"end"
    assert _keys(a, "uploads/") == []  # the dead process's tail and part included


def test_concurrent_commits_from_two_processes(s3_server: S3Server) -> None:
    a, b = _pair(s3_server)
    data = os.urandom(MIN_PART + 1)
    wa = a.writer("upload-race-a001", create=True)
    wb = b.writer("upload-race-b001", create=True)
    wa.write(data)
    wb.write(data)
    wa.prepare(_d(data))
    wb.prepare(_d(data))
    wa.publish()
    wb.publish()  # the conditional write is refused (412): the blob is already there
    assert a.digests() == [_d(data)]
    assert a.upload_ids() == []
    with a.open(_d(data)) as f:
        assert f.read() == data


def test_an_upload_held_in_memory_goes_to_the_bucket_once(s3_server: S3Server) -> None:
    """A monolithic upload (POST, then PUT with its bytes) sends its bytes once, as the blob:
    no tail object written before the commit and read back for it, and the upload is not
    listed again to be removed."""
    a, _ = _pair(s3_server)
    data = os.urandom(MIN_PART - 1)
    a.writer("upload-once-0001", create=True).close()  # the POST
    traffic = S3Calls(a.client)
    w = a.writer("upload-once-0001")  # the PUT
    w.write(data)
    w.commit(_d(data))
    w.close()
    blob = a.blob_key(_d(data))
    # the upload's objects listed once when the PUT opens it, removed without a second listing
    assert [c[0] for c in traffic.seen] == ["ListObjectsV2", "PutObject", "DeleteObjects"]
    assert traffic.named("PutObject") == [("PutObject", blob, len(data))]
    with a.open(_d(data)) as f:
        assert f.read() == data
    assert _keys(a, "uploads/") == []


def test_an_upload_whose_commit_fails_keeps_its_bytes(s3_server: S3Server) -> None:
    """When writing the blob fails after the digest was verified, the request's bytes are
    saved as the upload's tail when its writer closes, and another process commits them."""
    a, b = _pair(s3_server)
    first, rest = os.urandom(3000), os.urandom(5000)
    w = a.writer("upload-fail-0001", create=True)
    w.write(first)
    w.close()  # an earlier PATCH

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if "/blobs/" in params.get("Key", ""):
            raise ClientError({"Error": {"Code": "InternalError"}}, "PutObject")

    a.client.meta.events.register("provide-client-params.s3.PutObject", refuse)
    w = a.writer("upload-fail-0001")
    w.write(rest)
    w.prepare(_d(first + rest))
    with pytest.raises(S3Unavailable, match="InternalError"):
        w.publish()
    w.close()  # the request ends
    a.client.meta.events.unregister("provide-client-params.s3.PutObject", refuse)
    assert a.stat(_d(first + rest)) is None
    w = b.writer("upload-fail-0001")
    assert w.size() == len(first) + len(rest)
    w.commit(_d(first + rest))
    with a.open(_d(first + rest)) as f:
        assert f.read() == first + rest
    assert _keys(a, "uploads/") == []


def test_presigned_url_serves_the_blob(s3_server: S3Server) -> None:
    a, _ = _pair(s3_server)
    w = a.writer("upload-sign-0001", create=True)
    w.write(b"signed bytes")
    w.commit(_d(b"signed bytes"))
    url = a.presigned_url(_d(b"signed bytes"), 60)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["60"] and query["X-Amz-Signature"]
    assert httpx.get(url).content == b"signed bytes"


def test_empty_blob(s3_server: S3Server) -> None:
    a, _ = _pair(s3_server)
    a.writer("upload-empty-001", create=True).commit(_d(b""))
    assert a.stat(_d(b"")) is not None and a.stat(_d(b"")).size == 0  # type: ignore[union-attr]


def test_blob_urls() -> None:
    assert parse_blob_url("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_blob_url("s3://bucket") == ("bucket", "")
    for bad in ("file:///tmp", "s3:///prefix", "bucket/prefix"):
        with pytest.raises(InvalidInput):
            parse_blob_url(bad)


def test_missing_asks_for_the_blobs_side_by_side(s3_server: S3Server) -> None:
    """Two HEADs are in flight at once: the first waits at a barrier for a second to arrive
    (were they asked one after the other, the barrier would break after 30 s)."""
    a, _ = _pair(s3_server)
    blobs = [os.urandom(100) for _ in range(6)]
    for i, data in enumerate(blobs):
        w = a.writer(f"upload-side-{i:04d}", create=True)
        w.write(data)
        w.commit(_d(data))
    together = threading.Barrier(2, timeout=30)
    met: list[bool] = []

    def meet(**_: Any) -> None:
        if not met:
            together.wait()
            met.append(True)

    a.client.meta.events.register("before-call.s3.HeadObject", meet)
    gone = _d(b"not stored")
    assert a.missing([_d(b) for b in blobs] + [gone]) == {gone}
    assert met


def test_a_store_nobody_answers_for_is_unavailable() -> None:
    """No answer at all (a port nothing listens on) is `S3Unavailable`, as an error the
    bucket answers is: the registry's 503, not an exception botocore names."""
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        aws_access_key_id="key",
        aws_secret_access_key="secret",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5),
    )
    store = S3BlobStore(client, "nobody-home")
    for call in (
        lambda: store.stat(_d(b"x")),
        lambda: store.writer("upload-none-0001", create=True),
        lambda: store.missing([_d(b"x"), _d(b"y")]),
        store.ping,
    ):
        with pytest.raises(S3Unavailable) as err:
            call()
        assert "nobody-home" in str(err.value)
        assert isinstance(err.value, BackendUnavailable)
