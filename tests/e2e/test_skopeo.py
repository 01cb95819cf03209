"""Real clients against a real dockwatch: skopeo round trips of the image corpus."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.support.corpus import IMAGES, corpus_dir
from tests.support.servers import Server
from tests.support.skopeo import copy, skopeo


def _layout_blobs(layout: Path) -> dict[str, bytes]:
    out = {}
    for algo_dir in (layout / "blobs").iterdir():
        for f in algo_dir.iterdir():
            out[f"{algo_dir.name}:{f.name}"] = f.read_bytes()
    return out


def _manifest_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def _upload_posts(server: Server) -> float:
    """How many upload sessions the server has started (from /metrics)."""
    text = httpx.get(f"{server.url}/metrics").text
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("dockwatch_http_requests_total{")
            and 'route="v2/blobs/uploads"' in line
            and 'method="POST"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.corpus
def test_corpus_round_trip_is_byte_identical(dockwatch: Server, tmp_path: Path) -> None:
    corpus = corpus_dir()
    home = tmp_path / "home"
    for name in IMAGES:
        src = corpus / name
        copy(
            f"oci:{src}:latest",
            f"docker://{dockwatch.host}/corpus/{name}:latest",
            home=home,
            dest_auth=dockwatch.auth,
        )
        out = tmp_path / "pulled" / name
        out.parent.mkdir(exist_ok=True)
        copy(
            f"docker://{dockwatch.host}/corpus/{name}:latest",
            f"oci:{out}:latest",
            home=home,
            src_auth=dockwatch.auth,
        )
        original = _layout_blobs(src)
        pulled = _layout_blobs(out)
        assert pulled == {d: original[d] for d in pulled}, name
        assert set(pulled) == set(original), name
        assert _manifest_digest(out) == _manifest_digest(src)
        for digest, data in pulled.items():
            algo, _, hexd = digest.partition(":")
            assert hashlib.new(algo, data).hexdigest() == hexd


@pytest.mark.corpus
def test_second_push_uploads_no_blob(dockwatch: Server, tmp_path: Path) -> None:
    corpus = corpus_dir()
    home = tmp_path / "home"
    src = f"oci:{corpus / 'debian-python'}:latest"
    copy(src, f"docker://{dockwatch.host}/twice:latest", home=home, dest_auth=dockwatch.auth)
    before = _upload_posts(dockwatch)
    assert before > 0
    # a fresh skopeo home: no client-side cache helps; the registry's HEAD answers must
    shutil.rmtree(home)
    copy(src, f"docker://{dockwatch.host}/twice:latest", home=home, dest_auth=dockwatch.auth)
    assert _upload_posts(dockwatch) == before


@pytest.mark.corpus
def test_schema1_round_trip(dockwatch: Server, tmp_path: Path) -> None:
    """skopeo converts to signed schema 1 (v1+prettyjws); dockwatch stores it byte for byte and
    names it by the digest of its payload, as distribution does."""
    corpus = corpus_dir()
    home = tmp_path / "home"
    copy(
        f"oci:{corpus / 'debian-python'}:latest",
        f"docker://{dockwatch.host}/legacy/v1:old",
        home=home,
        dest_auth=dockwatch.auth,
        extra=("--format", "v2s1"),
    )
    with dockwatch.client() as c:
        r = c.get(
            "/v2/legacy/v1/manifests/old",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
        )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.docker.distribution.manifest.v1+prettyjws"
    doc = json.loads(r.content)
    assert doc["schemaVersion"] == 1 and doc["signatures"]
    # the digest is over the payload: the document without its signatures block, per libtrust
    import base64

    protected = json.loads(base64.urlsafe_b64decode(doc["signatures"][0]["protected"] + "=="))
    payload = r.content[: protected["formatLength"]] + base64.urlsafe_b64decode(
        protected["formatTail"] + "=="
    )
    assert r.headers["docker-content-digest"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    out = tmp_path / "v1-pulled"
    copy(
        f"docker://{dockwatch.host}/legacy/v1:old", f"dir:{out}", home=home, src_auth=dockwatch.auth
    )
    assert (out / "manifest.json").read_bytes() == r.content
    original = _layout_blobs(corpus / "debian-python")
    for layer in doc["fsLayers"]:
        digest = layer["blobSum"]
        assert (out / digest.split(":")[1]).read_bytes() == original[digest]


def _multi_platform_layout(corpus: Path, dest: Path) -> str:
    """An OCI layout whose index holds two corpus images as two platforms."""
    (dest / "blobs" / "sha256").mkdir(parents=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entries = []
    for name, arch in (("debian-minbase", "amd64"), ("distroless-debian", "arm64")):
        layout = corpus / name
        for f in (layout / "blobs" / "sha256").iterdir():
            shutil.copyfile(f, dest / "blobs" / "sha256" / f.name)
        desc = json.loads((layout / "index.json").read_text())["manifests"][0]
        entries.append(
            {
                "mediaType": desc["mediaType"],
                "digest": desc["digest"],
                "size": desc["size"],
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    digest = hashlib.sha256(index).hexdigest()
    (dest / "blobs" / "sha256" / digest).write_bytes(index)
    (dest / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "digest": f"sha256:{digest}",
                        "size": len(index),
                        "annotations": {"org.opencontainers.image.ref.name": "latest"},
                    }
                ],
            }
        )
    )
    return f"sha256:{digest}"


@pytest.mark.corpus
def test_multi_platform_index_round_trip(dockwatch: Server, tmp_path: Path) -> None:
    corpus = corpus_dir()
    home = tmp_path / "home"
    src = tmp_path / "multi"
    index_digest = _multi_platform_layout(corpus, src)
    copy(
        f"oci:{src}:latest",
        f"docker://{dockwatch.host}/multi:latest",
        home=home,
        dest_auth=dockwatch.auth,
        extra=("--all",),
    )
    raw = skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        *dockwatch.skopeo_creds(),
        f"docker://{dockwatch.host}/multi:latest",
        home=home,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == index_digest
    out = tmp_path / "multi-pulled"
    copy(
        f"docker://{dockwatch.host}/multi:latest",
        f"oci:{out}:latest",
        home=home,
        src_auth=dockwatch.auth,
        extra=("--all",),
    )
    assert _layout_blobs(out) == _layout_blobs(src)


@pytest.mark.corpus
def test_corpus_also_round_trips_through_distribution(
    distribution_server: Server, tmp_path: Path
) -> None:
    """The reference: the same corpus through distribution 2.8 keeps the same manifest digests."""
    corpus = corpus_dir()
    home = tmp_path / "home"
    for name in ("debian-minbase", "distroless-debian"):
        copy(
            f"oci:{corpus / name}:latest",
            f"docker://{distribution_server.host}/corpus/{name}:latest",
            home=home,
        )
        out = tmp_path / name
        copy(
            f"docker://{distribution_server.host}/corpus/{name}:latest",
            f"oci:{out}:latest",
            home=home,
        )
        assert _manifest_digest(out) == _manifest_digest(corpus / name)
