"""Transports: OCI layout, oci-archive, docker-archive, a registry (auth challenges)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dockwatch.image.errors import (
    AuthenticationFailed,
    BlobNotFound,
    ContentMismatch,
    NotRunnable,
    ReferenceNotFound,
    SourceInvalid,
)
from dockwatch.image.sources import RegistryRef, iter_images, open_source, resolve
from dockwatch.model.digest import Digest
from dockwatch.model.oci import Platform
from tests.builders.layers import (
    Image,
    make_image,
    make_index,
    make_layer,
    sha256,
    tar_directory,
    write_docker_archive,
    write_oci_layout,
)


def _image(platform: str = "linux/amd64") -> Image:
    return make_image(
        [make_layer({"etc/a": "a"}), make_layer({"etc/b": platform})], platform=platform
    )


def test_oci_layout_by_tag(tmp_path: Path) -> None:
    image = _image()
    write_oci_layout(tmp_path / "img", [image], tag="v1")
    source = open_source(f"oci:{tmp_path / 'img'}:v1")
    resolved = resolve(source.reader, source.ref)
    assert resolved.manifest_digest == image.digest
    assert [layer.digest for layer in resolved.layers] == [layer.digest for layer in image.layers]
    assert [layer.diff_id for layer in resolved.layers] == [layer.diff_id for layer in image.layers]
    with pytest.raises(ReferenceNotFound):
        open_source(f"oci:{tmp_path / 'img'}:nope").reader.manifest("nope")


def test_oci_index_selects_platform_and_skips_attestation(tmp_path: Path) -> None:
    amd, arm = _image("linux/amd64"), _image("linux/arm64")
    attestation = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + "e" * 64,
        "size": 1,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    }
    index = make_index([amd, arm], extra=[attestation])
    write_oci_layout(tmp_path / "img", [amd, arm], tag="latest", index=index)
    source = open_source(f"oci:{tmp_path / 'img'}:latest")
    assert (
        resolve(source.reader, source.ref, Platform.parse("linux/arm64")).manifest_digest
        == arm.digest
    )
    assert (
        resolve(source.reader, source.ref, Platform.parse("linux/amd64")).manifest_digest
        == amd.digest
    )
    found = list(iter_images(source.reader, source.ref))
    kinds = [getattr(f, "kind", None) for f in found]
    assert kinds.count("attestation") == 1 and len(found) == 3


def test_artifact_is_not_runnable(tmp_path: Path) -> None:
    sig = make_image(
        [make_layer({"x": "y"})],
        layer_media_type="application/vnd.dev.cosign.simplesigning.v1+json",
    )
    write_oci_layout(tmp_path / "sig", [sig])
    source = open_source(f"oci:{tmp_path / 'sig'}:latest")
    with pytest.raises(NotRunnable):
        resolve(source.reader, source.ref)


def test_oci_archive(tmp_path: Path) -> None:
    image = _image()
    write_oci_layout(tmp_path / "img", [image])
    archive = tar_directory(tmp_path / "img", tmp_path / "img.tar")
    source = open_source(f"oci-archive:{archive}")
    resolved = resolve(source.reader, source.ref)
    assert resolved.manifest_digest == image.digest
    with source.reader.open_blob(resolved.layers[1].digest) as f:
        assert f.read() == image.layers[1].blob


@pytest.mark.parametrize("oci_shaped", [False, True])
def test_docker_archive(tmp_path: Path, oci_shaped: bool) -> None:
    image = _image()
    archive = write_docker_archive(tmp_path / "saved.tar", image, oci_shaped=oci_shaped)
    source = open_source(f"docker-archive:{archive}")
    resolved = resolve(source.reader, source.ref)
    # docker save writes uncompressed layers: their digest is the diff_id.
    assert [layer.digest for layer in resolved.layers] == [layer.diff_id for layer in image.layers]
    with source.reader.open_blob(resolved.layers[0].digest) as f:
        assert f.read() == image.layers[0].tar
    assert resolve(source.reader, "example:latest").layers == resolved.layers


@pytest.mark.parametrize(
    ("text", "host", "repo", "ref"),
    [
        ("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1"),
        ("reg.example.com/app@sha256:" + "a" * 64, "reg.example.com", "app", "sha256:" + "a" * 64),
        ("busybox", "registry-1.docker.io", "library/busybox", "latest"),
        ("127.0.0.1:5000/debian-python", "127.0.0.1:5000", "debian-python", "latest"),
    ],
)
def test_registry_ref(text: str, host: str, repo: str, ref: str) -> None:
    assert RegistryRef.parse(text) == RegistryRef(host, repo, ref)


def test_bad_sources(tmp_path: Path) -> None:
    for spec in ["nope", "ftp:x", f"oci:{tmp_path}", "docker:host/x", "dockwatch:repo"]:
        with pytest.raises(SourceInvalid):
            open_source(spec)


class FakeRegistry:
    """A registry speaking the distribution API, with bearer or basic auth, in a MockTransport."""

    def __init__(self, image: Image, auth: str) -> None:
        self.blobs = image.blobs()
        self.manifest = image.manifest
        self.auth = auth
        self.by_digest = f"/v2/team/app/manifests/{image.digest}"
        self.token_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        if request.url.path == "/token":
            self.token_requests.append(request)
            if request.headers.get("authorization") != basic:
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "T0K"})
        wanted = "Bearer T0K" if self.auth == "bearer" else basic
        if request.headers.get("authorization") != wanted:
            challenge = (
                'Bearer realm="https://reg.test/token",service="reg.test",scope="repository:team/app:pull"'
                if self.auth == "bearer"
                else 'Basic realm="reg"'
            )
            return httpx.Response(401, headers={"www-authenticate": challenge})
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.url.path in ("/v2/team/app/manifests/v1", self.by_digest):
            return httpx.Response(
                200,
                content=self.manifest,
                headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
            )
        if request.url.path.startswith("/v2/team/app/blobs/"):
            digest = request.url.path.rsplit("/", 1)[1]
            if digest in self.blobs:
                return httpx.Response(200, content=self.blobs[digest])
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_registry_auth(auth: str) -> None:
    image = _image()
    fake = FakeRegistry(image, auth)
    source = open_source(
        "docker://reg.test/team/app:v1",
        creds=("alice", "s3cret"),
        transport=httpx.MockTransport(fake),
    )
    resolved = resolve(source.reader, source.ref)
    assert resolved.manifest_digest == image.digest
    with source.reader.open_blob(resolved.layers[0].digest) as f:
        assert sha256(f.read()) == image.layers[0].digest
    with pytest.raises(BlobNotFound):
        source.reader.open_blob(Digest(sha256(b"missing")))
    if auth == "bearer":
        assert fake.token_requests[0].url.params["scope"] == "repository:team/app:pull"


def test_registry_refuses_without_credentials() -> None:
    fake = FakeRegistry(_image(), "basic")
    source = open_source("docker://reg.test/team/app:v1", transport=httpx.MockTransport(fake))
    with pytest.raises(AuthenticationFailed):
        source.reader.manifest("v1")


def test_registry_manifest_json_roundtrip() -> None:
    image = _image()
    fake = FakeRegistry(image, "bearer")
    source = open_source(
        "docker://reg.test/team/app:v1",
        creds=("alice", "s3cret"),
        transport=httpx.MockTransport(fake),
    )
    data, media_type = source.reader.manifest("v1")
    assert json.loads(data) == json.loads(image.manifest)
    assert media_type == "application/vnd.oci.image.manifest.v1+json"


def test_a_registry_serving_other_content_than_a_digest_names_is_refused() -> None:
    image = _image()
    fake = FakeRegistry(image, "basic")
    source = open_source(
        f"docker://reg.test/team/app@{image.digest}",
        creds=("alice", "s3cret"),
        transport=httpx.MockTransport(fake),
    )
    assert resolve(source.reader, source.ref).manifest_digest == image.digest
    config_digest = sha256(image.config)
    tampered = json.loads(image.config)
    tampered["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64] * len(image.layers)
    fake.blobs[config_digest] = json.dumps(tampered).encode()
    with pytest.raises(ContentMismatch, match=f"config {config_digest}"):
        resolve(source.reader, source.ref)
    fake.blobs[config_digest] = image.config
    fake.manifest = _image("linux/arm64").manifest  # by tag anything goes; by digest it must match
    with pytest.raises(ContentMismatch, match=f"manifest {image.digest}"):
        resolve(source.reader, source.ref)
    assert source.reader.manifest("v1")[0] == fake.manifest


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")
def test_real_registry_roundtrip(tmp_path: Path) -> None:
    """docker-registry (CNCF distribution) as the peer: push with plain HTTP calls, then read
    back through `docker://` with tls-verify=false (https refused -> http fallback)."""
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/v2/")
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        image = _image()
        for digest, data in image.blobs().items():
            if digest == image.digest:
                continue
            start = httpx.post(f"{base}/v2/team/app/blobs/uploads/")
            location = start.headers["location"]
            url = location if location.startswith("http") else base + location
            sep = "&" if "?" in url else "?"
            assert httpx.put(f"{url}{sep}digest={digest}", content=data).status_code == 201
        put = httpx.put(
            f"{base}/v2/team/app/manifests/v1",
            content=image.manifest,
            headers={"content-type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert put.status_code == 201, put.text
        source = open_source(f"docker://127.0.0.1:{port}/team/app:v1", tls_verify=False)
        resolved = resolve(source.reader, source.ref)
        assert resolved.manifest_digest == image.digest
        with source.reader.open_blob(resolved.layers[1].digest) as f:
            assert f.read() == image.layers[1].blob
        with pytest.raises(ReferenceNotFound):
            source.reader.manifest("nope")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dockwatch_transport_uses_the_local_store(tmp_path: Path) -> None:
    from dockwatch.image.sources import BlobReader, OciLayout

    image = _image()
    write_oci_layout(tmp_path / "store", [image], tag="v1")
    asked: list[str] = []

    def store(repo: str) -> BlobReader:
        asked.append(repo)
        return OciLayout(str(tmp_path / "store"))

    source = open_source("dockwatch:team/app:v1", local_store=store)
    assert asked == ["team/app"] and source.ref == "v1"
    assert resolve(source.reader, source.ref).manifest_digest == image.digest
    by_digest = open_source(f"dockwatch:team/app@{image.digest}", local_store=store)
    assert by_digest.ref == image.digest
