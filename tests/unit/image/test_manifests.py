"""Manifest parsing: every format reduced to config + base-first layers; artifacts recognised."""

from __future__ import annotations

import json

import pytest

from dockwatch.image.errors import ManifestInvalid, NotRunnable, PlatformNotFound
from dockwatch.image.manifests import resolve_kind, select_platform
from dockwatch.model import oci
from dockwatch.model.oci import ImageIndex, ImageManifest, MediaType, Platform, entry_artifact_kind

DOCKER_SCHEMA1_SIGNED = MediaType.DOCKER_MANIFEST_V1_SIGNED


def parse_manifest(data: bytes, media_type: str | None = None) -> ImageManifest | ImageIndex:
    """The parser as image reading uses it: lenient."""
    return oci.parse_manifest(data, media_type, strict=False)


D = ["sha256:" + c * 64 for c in "abcdef"]


def test_docker_schema2() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": D[0],
            "size": 1,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": D[1],
                "size": 2,
            },
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": D[2],
                "size": 3,
            },
        ],
    }
    m = parse_manifest(json.dumps(doc).encode())
    assert isinstance(m, ImageManifest)
    assert [layer.digest for layer in m.layers] == [D[1], D[2]]
    assert m.artifact_kind() is None


def test_schema1_signed_reverses_layers_and_drops_throwaway() -> None:
    # fsLayers/history are newest first; the middle entry is an empty (throwaway) layer.
    doc = {
        "schemaVersion": 1,
        "name": "x",
        "tag": "latest",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": D[3]}, {"blobSum": D[2]}, {"blobSum": D[1]}],
        "history": [
            {"v1Compatibility": json.dumps({"id": "3", "os": "linux", "architecture": "amd64"})},
            {"v1Compatibility": json.dumps({"id": "2", "throwaway": True})},
            {"v1Compatibility": json.dumps({"id": "1"})},
        ],
        "signatures": [{"header": {"alg": "ES256"}, "signature": "xx", "protected": "yy"}],
    }
    m = parse_manifest(json.dumps(doc, indent=3).encode(), DOCKER_SCHEMA1_SIGNED)
    assert isinstance(m, ImageManifest)
    assert [layer.digest for layer in m.layers] == [D[1], D[3]]
    assert m.schema1_config is not None and m.schema1_config["os"] == "linux"
    resolve_kind(m)


def _index(entries: list[dict[str, object]]) -> ImageIndex:
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }
    parsed = parse_manifest(json.dumps(doc).encode())
    assert isinstance(parsed, ImageIndex)
    return parsed


def _entry(
    digest: str, os: str, arch: str, variant: str | None = None, **extra: object
) -> dict[str, object]:
    platform = {"os": os, "architecture": arch} | ({"variant": variant} if variant else {})
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "platform": platform,
        **extra,
    }


def test_index_platform_selection_and_attestations() -> None:
    index = _index(
        [
            _entry(D[0], "linux", "amd64"),
            _entry(D[1], "linux", "arm64", "v8"),
            _entry(D[2], "linux", "arm", "v7"),
            _entry(
                D[3],
                "unknown",
                "unknown",
                annotations={"vnd.docker.reference.type": "attestation-manifest"},
            ),
        ]
    )
    assert select_platform(index, Platform.parse("linux/amd64")).digest == D[0]
    assert (
        select_platform(index, Platform.parse("linux/arm64")).digest == D[1]
    )  # v8 is arm64's default
    assert select_platform(index, Platform.parse("linux/arm/v7")).digest == D[2]
    assert [d.digest for d in index.runnable()] == D[:3]
    assert entry_artifact_kind(index.manifests[3]) == "attestation"
    with pytest.raises(PlatformNotFound) as err:
        select_platform(index, Platform.parse("linux/s390x"))
    assert "linux/amd64" in err.value.available


def _artifact(config_type: str, layer_type: str, artifact_type: str | None = None) -> ImageManifest:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": D[0], "size": 1},
        "layers": [{"mediaType": layer_type, "digest": D[1], "size": 1}],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    m = parse_manifest(json.dumps(doc).encode())
    assert isinstance(m, ImageManifest)
    return m


@pytest.mark.parametrize(
    ("config", "layer", "artifact", "kind"),
    [
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            None,
            "signature",
        ),
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.dsse.envelope.v1+json",
            None,
            "attestation",
        ),
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.in-toto+json",
            None,
            "attestation",
        ),
        (
            "application/vnd.oci.empty.v1+json",
            "application/spdx+json",
            "application/spdx+json",
            "sbom",
        ),
        (
            "application/vnd.cncf.helm.config.v1+json",
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            None,
            "helm-chart",
        ),
        (
            "application/vnd.oci.empty.v1+json",
            "application/vnd.cncf.notary.signature",
            "application/vnd.cncf.notary.signature",
            "signature",
        ),
    ],
)
def test_artifacts_are_recognised(config: str, layer: str, artifact: str | None, kind: str) -> None:
    m = _artifact(config, layer, artifact)
    assert m.artifact_kind() == kind
    with pytest.raises(NotRunnable) as err:
        resolve_kind(m)
    assert err.value.kind == kind


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion": 2, "mediaType": "x/y"}',
        b'{"manifests": [{"digest": "md5:1"}]}',
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(data)


def test_signed_schema1_digest_is_the_payloads() -> None:
    """libtrust's JWS form: the digest covers the payload without `signatures`."""
    import base64
    import hashlib

    from dockwatch.model.oci import manifest_digest

    doc = {
        "schemaVersion": 1,
        "name": "x",
        "tag": "t",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": D[0]}],
        "history": [{"v1Compatibility": "{}"}],
    }
    payload = json.dumps(doc, indent=3).encode()
    length, tail = len(payload) - 2, payload[-2:]

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    protected = b64(json.dumps({"formatLength": length, "formatTail": b64(tail)}).encode())
    signed = (
        payload[:length]
        + b',\n   "signatures": [{"header": {}, "signature": "s", "protected": "'
        + protected.encode()
        + b'"}]'
        + tail
    )
    assert json.loads(signed)["signatures"]
    assert manifest_digest(signed) == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert manifest_digest(payload) == "sha256:" + hashlib.sha256(payload).hexdigest()
