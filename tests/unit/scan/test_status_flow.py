"""Scan states as a new image moves through the worker, in process over a real SQLite store."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.scan.status import ecr_status
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.sql import tables
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from tests.builders.layers import Image, make_image, make_index, make_layer, sha256
from tests.builders.push import push_image

_DIST_INFO = {
    "usr/lib/python3/site-packages/zeta-1.0.dist-info/METADATA": (
        "Metadata-Version: 2.1\nName: zeta\nVersion: 1.0\n"
    )
}


def _state(services: Services, repo: str, digest: str) -> ScanState | None:
    with services.db.read() as conn:
        r = SqlRegistryRepo(conn).get_repository(services.tenant, repo)
    assert r is not None
    with services.store.read() as uow:
        return uow.scans.get_scan(r.id, digest)


def test_new_image_pending_then_successful(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
        image = make_image([make_layer(_DIST_INFO)])
        digest = push_image(services, "flow", image, tag=image.digest)
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
        digest = push_image(services, "art", image, tag=image.digest)
        signature = make_image(
            [make_layer({"sig": "x"})], artifact_type="application/vnd.example.signature"
        )
        sig_digest = push_image(services, "art", signature, tag=signature.digest)
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


def _enhanced(tmp_path: Path, **settings: Any) -> Services:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True, **settings))
    services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
    return services


def _scanned(services: Services, repo: str, image: Image) -> ScanState:
    digest = push_image(services, repo, image, tag=image.digest)
    services.worker.drain()
    state = _state(services, repo, digest)
    assert state is not None
    return state


def test_a_config_that_is_not_json_is_an_internal_error(tmp_path: Path) -> None:
    services = _enhanced(tmp_path)
    try:
        good = make_image([make_layer(_DIST_INFO)])
        broken = dataclasses.replace(good, config=b"this is not JSON")
        manifest = json.loads(good.manifest)
        manifest["config"].update(digest=sha256(broken.config), size=len(broken.config))
        broken = dataclasses.replace(broken, manifest=json.dumps(manifest).encode())
        state = _scanned(services, "broken", broken)
        assert (state.status_code, state.reason) == ("INACTIVE", "INTERNAL_ERROR")
        assert ecr_status(state) == "FAILED" and state.unsupported_os  # the detail says why
    finally:
        services.close()


def test_an_image_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    services = _enhanced(tmp_path, scan_max_image_bytes=1000)
    try:
        big = make_image([make_layer({**_DIST_INFO, "blob": os.urandom(4000).hex()})])
        small = make_image([make_layer(_DIST_INFO)])
        assert sum(len(layer.blob) for layer in big.layers) > 1000
        assert sum(len(layer.blob) for layer in small.layers) <= 1000
        state = _scanned(services, "big", big)
        assert (state.status_code, state.reason) == ("INACTIVE", "IMAGE_SIZE_EXCEEDED")
        assert ecr_status(state) == "IMAGE_SIZE_EXCEEDED"
        with services.db.read() as conn:  # no layer was catalogued
            assert (
                conn.execute(select(func.count()).select_from(tables.catalog_results)).scalar() == 0
            )
        assert _scanned(services, "small", small).reason == "SUCCESSFUL"
    finally:
        services.close()


def test_an_image_with_layers_of_an_unknown_media_type(tmp_path: Path) -> None:
    services = _enhanced(tmp_path)
    try:
        image = make_image(
            [make_layer(_DIST_INFO)], layer_media_type="application/vnd.example.layer.v1+squashfs"
        )
        state = _scanned(services, "odd", image)
        assert (state.status_code, state.reason) == ("INACTIVE", "UNSUPPORTED_MEDIA_TYPE")
        assert ecr_status(state) == "UNSUPPORTED_IMAGE"
    finally:
        services.close()


def test_an_image_holding_nothing_to_scan(tmp_path: Path) -> None:
    services = _enhanced(tmp_path)
    try:
        state = _scanned(services, "empty", make_image([make_layer({"etc/hostname": "x"})]))
        assert (state.status_code, state.reason) == ("INACTIVE", "NO_RESOURCES_FOUND")
        assert ecr_status(state) == "FINDINGS_UNAVAILABLE"
    finally:
        services.close()
