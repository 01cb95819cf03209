"""Pushes side by side, as a registry receives them: `docker push` uploads a new repository's
layers in parallel, CI jobs push images sharing a base layer into many repositories at once,
and two jobs push one image under one tag. On PostgreSQL those requests write the same rows in
concurrent transactions (`storage/sql/shared_rows.py`); every request must succeed, and the
registry hold what one push after the other leaves."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.postgres import DATABASE_BACKENDS
from tests.support.servers import Server

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PARALLEL = 8


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload(server: Server, repository: str, data: bytes) -> int:
    """A monolithic upload (POST with the digest): the status."""
    with server.client() as client:
        answer = client.post(
            f"/v2/{repository}/blobs/uploads/",
            params={"digest": _digest(data)},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    return answer.status_code


def _side_by_side(calls: list[tuple[str, bytes]], server: Server) -> Counter[int]:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return Counter(pool.map(lambda c: _upload(server, c[0], c[1]), calls))


@pytest.mark.parametrize("dockwatch", DATABASE_BACKENDS, indirect=True)
def test_layers_uploaded_side_by_side_are_all_stored(dockwatch: Server) -> None:
    uploaded: list[tuple[str, bytes]] = []
    for n in range(4):
        # a new repository's layers, uploaded in parallel
        layers = [(f"new{n}/app", f"layer {n}.{i}".encode()) for i in range(PARALLEL)]
        # one base layer into eight new repositories at once
        shared = [(f"team{n}/svc{i}", f"base {n}".encode()) for i in range(PARALLEL)]
        for calls in (layers, shared):
            assert _side_by_side(calls, dockwatch) == {201: PARALLEL}
            uploaded += calls
    with dockwatch.client() as client:
        for repository, data in uploaded:
            head = client.head(f"/v2/{repository}/blobs/{_digest(data)}")
            assert head.status_code == 200
            assert int(head.headers["content-length"]) == len(data)
        listed = client.get("/v2/_catalog", params={"n": 1000}).json()["repositories"]
    assert listed == sorted({repository for repository, _ in uploaded})


@pytest.mark.parametrize("dockwatch", DATABASE_BACKENDS, indirect=True)
def test_one_image_pushed_by_many_clients_at_once(dockwatch: Server) -> None:
    config, layer = b'{"architecture": "amd64", "os": "linux"}', b"the image's only layer"
    for data in (config, layer):
        assert _upload(dockwatch, "team/app", data) == 201
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()

    def push(_: int) -> int:
        with dockwatch.client() as client:
            answer = client.put(
                "/v2/team/app/manifests/v1",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
        return answer.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        assert Counter(pool.map(push, range(PARALLEL))) == {201: PARALLEL}
    with dockwatch.client() as client:
        assert client.get("/v2/team/app/tags/list").json()["tags"] == ["v1"]
        got = client.get("/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert got.status_code == 200 and got.content == manifest
        assert got.headers["docker-content-digest"] == _digest(manifest)
    # one push made the image, the others pushed it again
    pushes = dockwatch.outbox_payloads("ManifestPushed")
    assert len(pushes) == PARALLEL
    assert sum(1 for p in pushes if p["firstPush"]) == 1
    assert {p["imageDigest"] for p in pushes} == {_digest(manifest)}
