"""Blob uploads (spec: pushing blobs): monolithic, chunked, mounts, failures."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest

from tests.support.servers import Server

from .oci import error_codes, sha256, upload, with_digest


def test_start_upload_headers(registry: Server) -> None:
    with registry.client() as c:
        r = c.post("/v2/up/start/blobs/uploads/")
        assert r.status_code == 202
        assert r.headers["range"] == "0-0"
        assert r.headers["docker-upload-uuid"]
        assert "/v2/up/start/blobs/uploads/" in r.headers["location"]
        status = c.get(r.headers["location"])
        assert status.status_code == 204
        assert status.headers["range"] == "0-0"
        assert status.headers["docker-upload-uuid"] == r.headers["docker-upload-uuid"]


def test_chunked_upload(registry: Server) -> None:
    data = bytes(i % 251 for i in range(300_000))
    chunks = [data[:100_000], data[100_000:250_000], data[250_000:]]
    with registry.client() as c:
        loc = c.post("/v2/up/chunked/blobs/uploads/").headers["location"]
        offset = 0
        for chunk in chunks:
            r = c.patch(
                loc,
                content=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
            )
            assert r.status_code == 202, r.text
            offset += len(chunk)
            assert r.headers["range"] == f"0-{offset - 1}"
            loc = r.headers["location"]
        assert c.get(loc).headers["range"] == f"0-{len(data) - 1}"
        r = c.put(with_digest(loc, sha256(data)))
        assert r.status_code == 201
        assert r.headers["docker-content-digest"] == sha256(data)
        assert r.headers["location"].endswith(f"/v2/up/chunked/blobs/{sha256(data)}")
        assert c.get(f"/v2/up/chunked/blobs/{sha256(data)}").content == data


def test_streamed_patch_then_put_with_final_chunk(registry: Server) -> None:
    data = b"streamed" * 10_000
    with registry.client() as c:
        loc = c.post("/v2/up/stream/blobs/uploads/").headers["location"]
        r = c.patch(
            loc, content=data[:50_000], headers={"Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 202
        r = c.put(with_digest(r.headers["location"], sha256(data)), content=data[50_000:])
        assert r.status_code == 201
        assert c.get(f"/v2/up/stream/blobs/{sha256(data)}").content == data


def test_wrong_digest_is_refused_and_nothing_is_visible(registry: Server) -> None:
    data = b"the real content"
    claimed = sha256(b"something else")
    with registry.client() as c:
        loc = c.post("/v2/up/wrong/blobs/uploads/").headers["location"]
        r = c.put(with_digest(loc, claimed), content=data)
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]
        assert c.head(f"/v2/up/wrong/blobs/{claimed}").status_code == 404
        assert c.head(f"/v2/up/wrong/blobs/{sha256(data)}").status_code == 404


def test_put_without_digest(registry: Server) -> None:
    with registry.client() as c:
        loc = c.post("/v2/up/nodigest/blobs/uploads/").headers["location"]
        r = c.put(loc, content=b"abc")
        assert r.status_code == 400
        assert error_codes(r) == ["DIGEST_INVALID"]


def test_unknown_upload(registry: Server) -> None:
    """Unknown sessions are 404. The spec's code is BLOB_UPLOAD_UNKNOWN; distribution 2.8 says
    BLOB_UPLOAD_INVALID because it cannot decode the session state it expects in the URL."""
    with registry.client() as c:
        upload(c, "up/unknown", b"x")
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            r = c.request(
                method,
                "/v2/up/unknown/blobs/uploads/0123456789abcdef0123456789abcdef",
                params={"digest": sha256(b"x")} if method == "PUT" else None,
            )
            assert r.status_code == 404, (method, r.text)
            expected = (
                "BLOB_UPLOAD_UNKNOWN" if registry.kind == "dockwatch" else "BLOB_UPLOAD_INVALID"
            )
            if method != "HEAD":
                assert error_codes(r) == [expected]


def test_upload_of_other_repository_is_unknown(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        loc = c.post("/v2/up/mine/blobs/uploads/").headers["location"]
        upload_id = loc.rsplit("/", 1)[-1]
        upload(c, "up/theirs", b"x")
        r = c.get(f"/v2/up/theirs/blobs/uploads/{upload_id}")
        assert r.status_code == 404
        assert error_codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_cancel_upload(registry: Server) -> None:
    with registry.client() as c:
        loc = c.post("/v2/up/cancel/blobs/uploads/").headers["location"]
        loc = c.patch(
            loc, content=b"partial", headers={"Content-Type": "application/octet-stream"}
        ).headers["location"]
        r = c.delete(loc)
        assert r.status_code == 204
        assert c.get(loc).status_code == 404


def test_out_of_order_chunk(dockwatch: Server) -> None:
    """The spec requires 416 for a chunk out of order; distribution 2.8 ignores Content-Range."""
    with dockwatch.client() as c:
        loc = c.post("/v2/up/order/blobs/uploads/").headers["location"]
        r = c.patch(loc, content=b"12345", headers={"Content-Range": "0-4"})
        assert r.status_code == 202
        r = c.patch(loc, content=b"67890", headers={"Content-Range": "7-11"})
        assert r.status_code == 416
        assert error_codes(r) == ["BLOB_UPLOAD_INVALID"]
        # the session is intact and at 5 bytes
        assert c.get(loc).headers["range"] == "0-4"
        r = c.patch(loc, content=b"67890", headers={"Content-Range": "5-9"})
        assert r.status_code == 202
        assert c.put(with_digest(loc, sha256(b"1234567890"))).status_code == 201


def test_single_post_upload(dockwatch: Server) -> None:
    """POST with ?digest and the body (spec: single POST); distribution 2.8 starts a session."""
    data = b"one request"
    with dockwatch.client() as c:
        r = c.post("/v2/up/single/blobs/uploads/", params={"digest": sha256(data)}, content=data)
        assert r.status_code == 201
        assert r.headers["docker-content-digest"] == sha256(data)
        assert c.get(f"/v2/up/single/blobs/{sha256(data)}").content == data


def test_mount_from_repository(registry: Server) -> None:
    with registry.client() as c:
        digest = upload(c, "up/source", b"shared layer")
        r = c.post("/v2/up/target/blobs/uploads/", params={"mount": digest, "from": "up/source"})
        assert r.status_code == 201
        assert r.headers["docker-content-digest"] == digest
        assert r.headers["location"].endswith(f"/v2/up/target/blobs/{digest}")
        assert c.get(f"/v2/up/target/blobs/{digest}").content == b"shared layer"


def test_mount_of_missing_blob_starts_an_upload(registry: Server) -> None:
    with registry.client() as c:
        upload(c, "up/src2", b"x")
        r = c.post(
            "/v2/up/dst2/blobs/uploads/", params={"mount": sha256(b"absent"), "from": "up/src2"}
        )
        assert r.status_code == 202
        assert r.headers["docker-upload-uuid"]


def test_mount_without_from(dockwatch: Server) -> None:
    """OCI 1.1: a registry may mount without `from` when it holds the blob."""
    with dockwatch.client() as c:
        digest = upload(c, "up/anywhere", b"discoverable")
        r = c.post("/v2/up/nofrom/blobs/uploads/", params={"mount": digest})
        assert r.status_code == 201
        assert c.get(f"/v2/up/nofrom/blobs/{digest}").content == b"discoverable"


def test_concurrent_uploads_of_the_same_blob(registry: Server) -> None:
    data = b"popular base layer" * 50_000
    errors: list[BaseException] = []

    def push() -> None:
        try:
            with registry.client() as c:
                upload(c, "up/race", data)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with registry.client() as c:
        assert c.get(f"/v2/up/race/blobs/{sha256(data)}").content == data


def _send_truncated(server: Server, method: str, path: str, data: bytes) -> None:
    """Send headers promising 1 MB, then `data`, then hang up."""
    assert server.auth is not None
    token = base64.b64encode(f"{server.auth[0]}:{server.auth[1]}".encode()).decode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
            f"Content-Length: 1000000\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data
        )


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_truncated_body_leaves_nothing(dockwatch: Server, method: str) -> None:
    """A client that promises 1 MB and hangs up after 10 bytes leaves no partial data: the
    blob never appears, and the session is back at offset 0 (a correct chunk 0-9 fits). When
    the server takes the hung-up request after that chunk instead, it drops its bytes as well,
    and the session's digest still matches the chunk alone."""
    data = b"0123456789"
    with dockwatch.client() as c:
        loc = c.post("/v2/up/trunc/blobs/uploads/").headers["location"]
        _send_truncated(dockwatch, method, f"{loc}?digest={sha256(data)}", data)
        deadline = time.monotonic() + 10
        while True:
            assert c.head(f"/v2/up/trunc/blobs/{sha256(data)}").status_code == 404
            r = c.patch(loc, content=data, headers={"Content-Range": "0-9"})
            if r.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 202, r.text
        # the server may take the hung-up request only now, after the chunk above: it then holds
        # the session until it has dropped its partial bytes, and the PUT waits for that
        while (r := c.put(with_digest(loc, sha256(data)))).status_code == 416:
            assert "another request is writing" in r.text, r.text
            assert time.monotonic() < deadline + 10, r.text
            time.sleep(0.05)
        assert r.status_code == 201, r.text
        assert c.get(f"/v2/up/trunc/blobs/{sha256(data)}").content == data
