"""Scan states as a new image moves through the worker, in process over a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.digest import Digest
from dockwatch.scan.status import ecr_status
from dockwatch.storage.sql import registry_repo, scan_repo
from dockwatch.storage.sql.scan_repo import ScanState
from tests.builders.layers import Image, make_image, make_index, make_layer, sha256

OCI = "application/vnd.oci.image.manifest.v1+json"


def _upload(services: Services, repo: str, data: bytes) -> None:
    uploads = services.registry.uploads
    upload_id = uploads.start(repo)
    writer = uploads.claim(repo, upload_id)
    try:
        writer.write(data)
        uploads.complete(repo, upload_id, writer, Digest(sha256(data)))
    finally:
        uploads.release(upload_id, writer)


def _push(services: Services, repo: str, image: Image) -> str:
    for blob in (image.config, *(layer.blob for layer in image.layers)):
        _upload(services, repo, blob)
    return services.registry.manifests.put(repo, image.digest, image.manifest, OCI).digest


def _state(services: Services, repo: str, digest: str) -> ScanState | None:
    with services.db.read() as conn:
        r = registry_repo.get_repository(conn, services.tenant, repo)
        assert r is not None
        return scan_repo.get_scan(conn, r.id, digest)


def test_new_image_pending_then_successful(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        image = make_image([make_layer({"etc/hostname": "x"})])
        digest = _push(services, "flow", image)
        services.worker.dispatch()
        pending = _state(services, "flow", digest)
        assert pending is not None and (pending.status_code, pending.reason) == (
            "ACTIVE",
            "PENDING_INITIAL_SCAN",
        )
        assert ecr_status(pending) == "PENDING"
        assert services.worker.run_one() is not None
        done = _state(services, "flow", digest)
        assert done is not None and (done.status_code, done.reason) == ("ACTIVE", "SUCCESSFUL")
        assert ecr_status(done) == "ACTIVE" and done.last_scanned_at is not None
    finally:
        services.close()


def test_artifacts_and_indexes_are_left_out_of_coverage(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        image = make_image([make_layer({"etc/hostname": "x"})])
        digest = _push(services, "art", image)
        signature = make_image(
            [make_layer({"sig": "x"})], artifact_type="application/vnd.example.signature"
        )
        sig_digest = _push(services, "art", signature)
        index = make_index([image])
        index_digest = services.registry.manifests.put(
            "art", "latest", index, "application/vnd.oci.image.index.v1+json"
        ).digest
        services.worker.drain()
        assert _state(services, "art", digest) is not None
        assert _state(services, "art", sig_digest) is None
        assert _state(services, "art", index_digest) is None
        assert json.loads(index)["manifests"][0]["digest"] == digest
    finally:
        services.close()
