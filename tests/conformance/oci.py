"""Small OCI client operations shared by the conformance tests (real HTTP, no shortcuts)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import httpx

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    """The sha256 digest string of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_digest(location: str, digest: str) -> str:
    """`location` with `digest=` added to its query (httpx's `params=` would replace the query,
    losing the session state distribution keeps there)."""
    return str(httpx.URL(location).copy_merge_params({"digest": digest}))


def upload(client: httpx.Client, name: str, data: bytes) -> str:
    """Upload a blob with POST then a monolithic PUT; returns its digest."""
    digest = sha256(data)
    r = client.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202, r.text
    r = client.put(
        with_digest(r.headers["location"], digest),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    return digest


def config_blob(seed: str = "a", os_name: str = "linux", arch: str = "amd64") -> bytes:
    """A small image config."""
    return json.dumps(
        {
            "architecture": arch,
            "os": os_name,
            "rootfs": {"type": "layers", "diff_ids": []},
            "seed": seed,
        }
    ).encode()


def image_manifest(
    config: bytes, layers: list[bytes], media_type: str = DOCKER_V2, **extra: Any
) -> bytes:
    """An image manifest (Docker v2 or OCI) over the given blobs."""
    oci = media_type == OCI_MANIFEST
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": OCI_LAYER if oci else DOCKER_LAYER, "digest": sha256(b), "size": len(b)}
            for b in layers
        ],
    }
    doc.update(extra)
    return json.dumps(doc, indent=3).encode()


def push_image(
    client: httpx.Client,
    name: str,
    ref: str,
    seed: str = "a",
    media_type: str = DOCKER_V2,
    *,
    layers: Sequence[bytes] | None = None,
    **extra: Any,
) -> tuple[str, bytes]:
    """Upload a config and `layers` (one small layer made from `seed` by default), push a
    manifest at `ref`; returns (digest, manifest bytes)."""
    config = config_blob(seed)
    blobs = list(layers) if layers is not None else [f"layer-{seed}".encode() * 50]
    for blob in [config, *blobs]:
        upload(client, name, blob)
    manifest = image_manifest(config, blobs, media_type, **extra)
    r = client.put(
        f"/v2/{name}/manifests/{ref}", content=manifest, headers={"Content-Type": media_type}
    )
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == sha256(manifest)
    return sha256(manifest), manifest


def error_codes(response: httpx.Response) -> list[str]:
    """The `code` of each error in an OCI error body."""
    body = response.json()
    assert isinstance(body.get("errors"), list) and body["errors"], body
    for e in body["errors"]:
        assert isinstance(e.get("message"), str)
    return [e["code"] for e in body["errors"]]
