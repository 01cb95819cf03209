"""The BlobStore contract, run against every backend: the filesystem and S3 (moto's server,
through the S3 wire protocol)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dockwatch.model.digest import Digest
from dockwatch.storage.blobs.blobstore import (
    BlobNotFound,
    BlobStore,
    DigestMismatch,
    UploadNotFound,
)
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.blobs.s3 import MIN_PART, S3BlobStore
from tests.support.s3 import S3Server

Factory = Callable[[Path], BlobStore]
BACKENDS = ("filesystem", "s3")


def _d(data: bytes, algo: str = "sha256") -> Digest:
    return Digest(f"{algo}:{hashlib.new(algo, data).hexdigest()}")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path)
    s3: S3Server = request.getfixturevalue("s3_server")
    # the smallest part S3 allows, so that the multi-part paths run on small data
    return S3BlobStore(s3.client(), s3.new_bucket(), "some/prefix", part_size=MIN_PART)


def test_write_commit_read(store: BlobStore) -> None:
    w = store.writer("upload-0001", create=True)
    w.write(b"hello ")
    w.write(b"world")
    info = w.commit(_d(b"hello world"))
    assert info.size == 11
    assert store.stat(_d(b"hello world")) is not None
    with store.open(_d(b"hello world")) as f:
        assert f.read() == b"hello world"
    with store.open(_d(b"hello world"), offset=6) as f:
        assert f.read() == b"world"
    assert _d(b"hello world") in store.digests()


def test_mismatch_publishes_nothing(store: BlobStore) -> None:
    w = store.writer("upload-0002", create=True)
    w.write(b"actual")
    with pytest.raises(DigestMismatch) as err:
        w.commit(_d(b"claimed"))
    assert err.value.actual == _d(b"actual")
    assert store.stat(_d(b"claimed")) is None
    assert store.stat(_d(b"actual")) is None


def test_resume_in_another_writer_and_sha512(store: BlobStore) -> None:
    data = bytes(range(256)) * 64
    w = store.writer("upload-0003", create=True)
    w.write(data[:1000])
    w.close()
    w2 = store.writer("upload-0003")
    assert w2.size() == 1000
    w2.write(data[1000:])
    assert w2.commit(_d(data, "sha512")).size == len(data)
    with store.open(_d(data, "sha512")) as f:
        assert f.read() == data


def test_truncate_drops_a_partial_chunk(store: BlobStore) -> None:
    w = store.writer("upload-0004", create=True)
    w.write(b"good")
    w.write(b"partial garbage")
    w.truncate(4)
    w.write(b" data")
    w.commit(_d(b"good data"))
    with store.open(_d(b"good data")) as f:
        assert f.read() == b"good data"


def test_cancel_and_unknown_uploads(store: BlobStore) -> None:
    w = store.writer("upload-0005", create=True)
    w.write(b"x")
    assert "upload-0005" in dict(store.upload_ids())
    w.cancel()
    assert "upload-0005" not in dict(store.upload_ids())
    for bad in ("upload-0005", "../../etc/passwd", "short", ""):
        with pytest.raises(UploadNotFound):
            store.writer(bad)


def test_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.open(_d(b"nothing"))
    assert store.stat(_d(b"nothing")) is None
    store.delete(_d(b"nothing"))  # missing is not an error


def test_concurrent_commits_of_one_digest(store: BlobStore) -> None:
    data = b"same content" * 10_000
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            w = store.writer(f"upload-race-{i:04d}", create=True)
            w.write(data)
            w.commit(_d(data))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.open(_d(data)) as f:
        assert f.read() == data
    assert store.upload_ids() == []


def test_missing_names_the_blobs_not_stored(store: BlobStore) -> None:
    stored = [b"first blob", b"second blob", b"third blob"]
    for i, data in enumerate(stored):
        w = store.writer(f"upload-miss-{i:04d}", create=True)
        w.write(data)
        w.commit(_d(data))
    absent = [_d(b"never stored"), _d(b"nor this", "sha512")]
    asked = [_d(stored[1]), absent[0], _d(stored[0]), absent[1], _d(stored[2]), absent[0]]
    assert store.missing(asked) == set(absent)
    assert store.missing([_d(stored[0])]) == set()
    assert store.missing([absent[1]]) == {absent[1]}
    assert store.missing([]) == set()
