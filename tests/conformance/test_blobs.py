"""Blob reads and deletes (spec: pulling blobs, deleting blobs), against both registries."""

from __future__ import annotations

import hashlib

from tests.support.servers import Server

from .oci import error_codes, sha256, upload, with_digest


def test_head_and_get_blob(registry: Server) -> None:
    data = bytes(range(256)) * 100
    with registry.client() as c:
        digest = upload(c, "blobs/a", data)
        head = c.head(f"/v2/blobs/a/blobs/{digest}")
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(data))
        assert head.headers["docker-content-digest"] == digest
        assert head.content == b""
        get = c.get(f"/v2/blobs/a/blobs/{digest}")
        assert get.status_code == 200
        assert get.content == data
        assert get.headers["docker-content-digest"] == digest
        assert get.headers["docker-distribution-api-version"] == "registry/2.0"


def test_range_request(registry: Server) -> None:
    data = b"0123456789" * 1000
    with registry.client() as c:
        digest = upload(c, "blobs/range", data)
        r = c.get(f"/v2/blobs/range/blobs/{digest}", headers={"Range": "bytes=10-29"})
        assert r.status_code == 206
        assert r.content == data[10:30]
        assert r.headers["content-range"] == f"bytes 10-29/{len(data)}"


def test_inverted_range_is_not_satisfiable(dockwatch: Server) -> None:
    """`bytes=500-0` (last below first) answers 416 with `Content-Range: bytes */SIZE`, as the
    distribution-spec conformance suite requires (it does not accept a 200 there); distribution
    2.8 answers 416 too. A start past the end is 416 as well; valid ranges still work."""
    data = bytes(range(256)) * 8
    with dockwatch.client() as c:
        digest = upload(c, "blobs/inverted", data)
        url = f"/v2/blobs/inverted/blobs/{digest}"
        for spec in ("bytes=500-0", "bytes=5000-10000"):
            r = c.get(url, headers={"Range": spec})
            assert r.status_code == 416, spec
            assert r.headers["content-range"] == f"bytes */{len(data)}"
            assert r.content == b""
        r = c.get(url, headers={"Range": "bytes=500-"})
        assert r.status_code == 206
        assert r.content == data[500:]
        r = c.get(url, headers={"Range": "bytes=-500"})
        assert r.status_code == 206
        assert r.content == data[-500:]
        r = c.get(url, headers={"Range": "bytes=2000-5000"})
        assert r.status_code == 206
        assert r.content == data[2000:]
        assert r.headers["content-range"] == f"bytes 2000-{len(data) - 1}/{len(data)}"


def test_unknown_blob(registry: Server) -> None:
    missing = sha256(b"never uploaded")
    with registry.client() as c:
        upload(c, "blobs/u", b"something")
        assert c.head(f"/v2/blobs/u/blobs/{missing}").status_code == 404
        r = c.get(f"/v2/blobs/u/blobs/{missing}")
        assert r.status_code == 404
        assert error_codes(r) == ["BLOB_UNKNOWN"]


def test_blob_is_invisible_in_other_repositories(registry: Server) -> None:
    with registry.client() as c:
        digest = upload(c, "blobs/owner", b"private bytes")
        upload(c, "blobs/other", b"other bytes")
        r = c.get(f"/v2/blobs/other/blobs/{digest}")
        assert r.status_code == 404
        assert error_codes(r) == ["BLOB_UNKNOWN"]
        r = c.get(f"/v2/blobs/nonexistent/blobs/{digest}")
        assert r.status_code == 404
        assert error_codes(r) == ["BLOB_UNKNOWN"]


def test_delete_blob(registry: Server) -> None:
    with registry.client() as c:
        digest = upload(c, "blobs/del", b"to be deleted")
        r = c.delete(f"/v2/blobs/del/blobs/{digest}")
        assert r.status_code == 202
        assert c.head(f"/v2/blobs/del/blobs/{digest}").status_code == 404
        r = c.delete(f"/v2/blobs/del/blobs/{digest}")
        assert r.status_code == 404
        assert error_codes(r) == ["BLOB_UNKNOWN"]


def test_malformed_digest(registry: Server) -> None:
    with registry.client() as c:
        upload(c, "blobs/bad", b"x")
        r = c.get("/v2/blobs/bad/blobs/sha256:nothex")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]


def test_sha512_blob(dockwatch: Server) -> None:
    """OCI 1.1 registries accept sha512 digests (distribution 2.8 does not)."""
    data = b"sha512 content" * 10
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    with dockwatch.client() as c:
        r = c.post("/v2/blobs/s512/blobs/uploads/")
        r = c.put(with_digest(r.headers["location"], digest), content=data)
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == digest
        assert c.get(f"/v2/blobs/s512/blobs/{digest}").content == data
