"""Manifest parsing: media types, references and the schema 1 payload digest."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from dockwatch.model.oci import ManifestInvalid, MediaType, Platform, parse_manifest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signed_schema1(unsigned: dict[str, object]) -> tuple[bytes, bytes]:
    """Sign the way libtrust does: the payload is the pretty JSON; the signed document is the
    payload with a `signatures` member spliced in before its closing brace; the protected
    header records where (formatLength) and what was cut (formatTail)."""
    payload = json.dumps(unsigned, indent=3).encode()
    cut = payload.rindex(b"\n}")
    tail = payload[cut:]
    protected = _b64(
        json.dumps(
            {"formatLength": cut, "formatTail": _b64(tail), "time": "2026-01-01T00:00:00Z"}
        ).encode()
    )
    signature = {"header": {"alg": "ES256"}, "signature": "c2ln", "protected": protected}
    signed = (
        payload[:cut] + b',\n   "signatures": ' + json.dumps([signature], indent=3).encode() + tail
    )
    return payload, signed


def test_schema1_digest_is_over_the_payload() -> None:
    layer = "sha256:" + "a" * 64
    unsigned = {
        "schemaVersion": 1,
        "name": "repo",
        "tag": "v1",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": layer}],
        "history": [{"v1Compatibility": "{}"}],
    }
    payload, signed = _signed_schema1(unsigned)
    parsed = parse_manifest(signed, MediaType.DOCKER_MANIFEST_V1_SIGNED)
    assert parsed.digest == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert parsed.digest != "sha256:" + hashlib.sha256(signed).hexdigest()
    assert [b.digest for b in parsed.blobs] == [layer]
    assert (parsed.schema1_name, parsed.schema1_tag) == ("repo", "v1")


@pytest.mark.parametrize(
    "doc",
    [
        {"schemaVersion": 1, "fsLayers": [], "history": []},
        {"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:zz"}], "history": [{}]},
        {"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:" + "a" * 64}], "history": []},
    ],
)
def test_bad_schema1(doc: dict[str, object]) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(json.dumps(doc).encode(), MediaType.DOCKER_MANIFEST_V1)


def test_oci_artifact_and_subject() -> None:
    subject = "sha256:" + "b" * 64
    doc = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:" + "c" * 64,
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "x",
                "digest": "sha256:" + "d" * 64,
                "size": 1,
                "urls": ["https://example.invalid/l"],
            }
        ],
        "subject": {"mediaType": MediaType.OCI_MANIFEST, "digest": subject, "size": 10},
    }
    parsed = parse_manifest(json.dumps(doc).encode(), None)
    assert parsed.media_type == MediaType.OCI_MANIFEST
    assert parsed.subject is not None and parsed.subject.digest == subject
    assert parsed.artifact_type == "application/vnd.oci.empty.v1+json"
    assert parsed.blobs[1].urls == ("https://example.invalid/l",)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe", MediaType.OCI_MANIFEST),
        (b"1", MediaType.OCI_MANIFEST),
        (
            json.dumps({"schemaVersion": 3, "config": {}, "layers": []}).encode(),
            MediaType.OCI_MANIFEST,
        ),
        (json.dumps({"schemaVersion": 2, "manifests": "no"}).encode(), MediaType.OCI_INDEX),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "config": {"mediaType": "x", "digest": "sha256:" + "a" * 64, "size": -1},
                    "layers": [],
                }
            ).encode(),
            MediaType.OCI_MANIFEST,
        ),
        (json.dumps({"schemaVersion": 2}).encode(), "text/plain"),
        (json.dumps({"foo": 1}).encode(), None),
    ],
)
def test_invalid_manifests(body: bytes, content_type: str | None) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, content_type)


def test_index_descriptors_carry_typed_platforms_and_annotations() -> None:
    child = "sha256:" + hashlib.sha256(b"child").hexdigest()
    doc = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_INDEX,
        "manifests": [
            {
                "mediaType": MediaType.OCI_MANIFEST,
                "digest": child,
                "size": 5,
                "platform": {"os": "linux", "architecture": "arm64"},
                "annotations": {"b": "2", "a": "1"},
            }
        ],
    }
    parsed = parse_manifest(json.dumps(doc).encode(), MediaType.OCI_INDEX)
    (d,) = parsed.manifests
    assert d.platform == Platform("linux", "arm64")
    assert d.platform.matches(Platform.parse("linux/arm64/v8"))
    assert d.annotations == (("a", "1"), ("b", "2"))
    assert d.annotation("b") == "2"


@pytest.mark.parametrize("depth", [1025, 100_000])
def test_nesting_deeper_than_the_parser_allows_is_invalid(depth: int) -> None:
    """Deep nesting is a ManifestInvalid, never a RecursionError."""
    body = b'{"schemaVersion": 2, "annotations": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ManifestInvalid, match="not valid JSON"):
        parse_manifest(body, MediaType.OCI_MANIFEST)
