"""The blob store a setting names, and the settings' checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.config import from_env
from dockwatch.errors import InvalidInput
from dockwatch.model.digest import Digest
from dockwatch.storage.blobs import open_blob_store
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.blobs.s3 import S3BlobStore
from tests.support.s3 import S3Server


def test_unset_is_the_data_folder(tmp_path: Path) -> None:
    store = open_blob_store(None, tmp_path)
    assert isinstance(store, FilesystemBlobStore) and store.root == tmp_path


def test_s3_url_reads_the_aws_variables(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = s3_server.new_bucket()
    store = open_blob_store(f"s3://{bucket}/a/b", tmp_path, "path")
    assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == (bucket, "a/b/")
    store.ping()  # reaches the endpoint named by AWS_ENDPOINT_URL_S3
    w = store.writer("upload-factory-1", create=True)
    w.write(b"x")
    w.commit(Digest("sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"))
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [
        "a/b/blobs/sha256/2d/2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    ]


def test_bad_urls_and_modes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_blob_store("gs://bucket/x", tmp_path)
    errors = from_env(
        {
            "DOCKWATCH_BLOB_URL": "/srv/blobs",
            "DOCKWATCH_BLOB_REDIRECT": "sometimes",
            "DOCKWATCH_S3_ADDRESSING_STYLE": "dns",
            "DOCKWATCH_BLOB_REDIRECT_SECONDS": "0",
        }
    ).validate()
    assert len(errors) == 4
    assert from_env({"DOCKWATCH_MIGRATE_AT_START": "false"}).migrate_at_start is False
