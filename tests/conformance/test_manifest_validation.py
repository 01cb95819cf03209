"""Manifests a registry must refuse although they parse: sizes that lie, hostile nesting."""

from __future__ import annotations

import json

import pytest

from tests.support.servers import Server

from .oci import DOCKER_V2, OCI_MANIFEST, config_blob, error_codes, image_manifest, upload


@pytest.mark.parametrize("media_type", [DOCKER_V2, OCI_MANIFEST])
@pytest.mark.parametrize("descriptor", ["config", "layer"])
def test_descriptor_size_must_match_the_stored_blob(
    dockwatch: Server, media_type: str, descriptor: str
) -> None:
    """A descriptor whose `size` disagrees with the blob is MANIFEST_INVALID and nothing is
    stored. (distribution 2.8 accepts both with 201: it checks that the blobs exist only.)"""
    with dockwatch.client() as c:
        config = config_blob("sz")
        layer = b"the layer bytes " * 40
        upload(c, "man/size", config)
        upload(c, "man/size", layer)
        doc = json.loads(image_manifest(config, [layer], media_type))
        if descriptor == "config":
            doc["config"]["size"] = len(config) + 1
        else:
            doc["layers"][0]["size"] = len(layer) - 1
        body = json.dumps(doc).encode()
        r = c.put("/v2/man/size/manifests/v1", content=body, headers={"Content-Type": media_type})
        assert r.status_code == 400
        assert error_codes(r) == ["MANIFEST_INVALID"]
        assert "size" in r.json()["errors"][0]["message"]
        assert c.get("/v2/man/size/manifests/v1").status_code == 404
        assert c.get("/v2/man/size/tags/list").json()["tags"] in (None, [])
        # the same manifest with the true sizes is accepted
        good = image_manifest(config, [layer], media_type)
        r = c.put("/v2/man/size/manifests/v1", content=good, headers={"Content-Type": media_type})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("opener,closer", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deeply_nested_manifest_is_invalid_not_a_server_error(
    dockwatch: Server, opener: bytes, closer: bytes
) -> None:
    """100,000 nested arrays or objects (a few hundred kilobytes, under the size limit) answer
    400 MANIFEST_INVALID; the server keeps serving."""
    depth = 100_000
    body = opener * depth + b"1" + closer * depth
    with dockwatch.client() as c:
        for content_type in (OCI_MANIFEST, "application/json"):
            r = c.put(
                "/v2/man/deep/manifests/v1", content=body, headers={"Content-Type": content_type}
            )
            assert r.status_code == 400, r.text
            assert error_codes(r) == ["MANIFEST_INVALID"]
        wrapped = b'{"schemaVersion": 2, "mediaType": "%s", "annotations": %s}' % (
            OCI_MANIFEST.encode(),
            body,
        )
        r = c.put(
            "/v2/man/deep/manifests/v1", content=wrapped, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 400
        assert error_codes(r) == ["MANIFEST_INVALID"]
        assert c.get("/v2/").status_code == 200
