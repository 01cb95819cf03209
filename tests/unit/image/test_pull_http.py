"""The stdlib client under `docker://` against real HTTP servers on the loopback: the bearer
token flow, a redirect of blobs to another origin (credentials dropped), chunked and cut-short
bodies, kept-alive connections, TLS verified or not, and the same bytes as httpx reads."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dockwatch.image.errors import AuthenticationFailed, RemoteRegistryError
from dockwatch.image.pull_http import BodyError, StdlibHttp, open_http
from dockwatch.image.remote import RegistryClient, RegistryRef
from dockwatch.image.sources import resolve
from dockwatch.model.digest import Digest
from tests.builders.layers import Image, make_image, make_layer
from tests.support.certs import self_signed

BASIC = "Basic " + base64.b64encode(b"alice:s3cret").decode()


class _Server:
    """A threaded HTTP server on port 0 whose handler is `handle(handler) -> None`."""

    def __init__(self, handle: object, tls: ssl.SSLContext | None = None) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer.requests.append((self.path, dict(self.headers), self.client_address[1]))
                handle(self)  # type: ignore[operator]

            def log_message(self, *args: object) -> None:
                pass

        self.requests: list[tuple[str, dict[str, str], int]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


class _Registry:
    """A token-auth registry whose blobs are redirected to a storage server on another port."""

    def __init__(self, image: Image) -> None:
        self.image = image
        self.blobs = image.blobs()
        self.storage = _Server(self._storage)
        self.registry = _Server(self._registry)
        self.cut: set[str] = set()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.registry.port}"

    def _registry(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token?"):
            if h.headers.get("authorization") != BASIC:
                return _send(h, 401)
            return _send(h, 200, json.dumps({"token": "T0K"}).encode())
        if h.headers.get("authorization") != "Bearer T0K":
            realm = f"http://{self.host}/token"
            challenge = f'Bearer realm="{realm}",service="reg",scope="repository:team/app:pull"'
            return _send(h, 401, b'{"errors":[]}', WWW_Authenticate=challenge)
        if h.path == "/v2/":
            return _send(h, 200, b"{}")
        if h.path == "/v2/team/app/manifests/v1":
            media = "application/vnd.oci.image.manifest.v1+json"
            return _send(h, 200, self.image.manifest, Content_Type=media)
        digest = h.path.rsplit("/", 1)[1]
        if h.path.startswith("/v2/team/app/blobs/") and digest in self.blobs:
            # relative to the storage's origin: credentials must not follow
            where = f"http://127.0.0.1:{self.storage.port}/store/{digest}?sig=x"
            return _send(h, 307, Location=where)
        return _send(h, 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')

    def _storage(self, h: BaseHTTPRequestHandler) -> None:
        digest = h.path.split("/")[2].split("?")[0]
        if "authorization" in {k.lower() for k in h.headers} or digest not in self.blobs:
            return _send(h, 403)
        data = self.blobs[digest]
        if digest in self.cut:  # promise more than is sent, then drop the connection
            h.send_response(200)
            h.send_header("Content-Length", str(len(data) + 100))
            h.end_headers()
            h.wfile.write(data)
            h.close_connection = True
            return None
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for i in range(0, len(data), 1000):
            piece = data[i : i + 1000]
            h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")
        return None

    def stop(self) -> None:
        self.registry.stop()
        self.storage.stop()


@pytest.fixture
def registry() -> Iterator[_Registry]:
    layers = [make_layer({"etc/os-release": b"ID=debian\n", "a/big": bytes(range(256)) * 300})]
    reg = _Registry(make_image(layers))
    yield reg
    reg.stop()


def _client(reg: _Registry, creds: tuple[str, str] | None = ("alice", "s3cret"),
            transport: httpx.BaseTransport | None = None) -> RegistryClient:  # fmt: skip
    ref = RegistryRef.parse(f"{reg.host}/team/app:v1")
    return RegistryClient(ref, creds, tls_verify=False, transport=transport)


def test_token_flow_redirects_and_chunked_blobs(registry: _Registry) -> None:
    client = _client(registry)
    assert isinstance(client._http, StdlibHttp)
    image = resolve(client, "v1")
    assert image.manifest_digest == registry.image.digest
    for layer in image.layers:
        with client.open_blob(layer.digest) as f:
            assert f.read() == registry.blobs[layer.digest]
    token_requests = [r for r in registry.registry.requests if r[0].startswith("/token?")]
    assert len(token_requests) == 1
    assert "scope=repository%3Ateam%2Fapp%3Apull" in token_requests[0][0]
    # the storage never saw the token; every request to the registry after the first
    # challenge went over a kept connection (one client port)
    assert all("Authorization" not in h for _, h, _ in registry.storage.requests)
    assert len({port for _, _, port in registry.registry.requests}) == 1
    client.close()


def test_a_blob_read_in_pieces_of_any_size_is_the_blob(registry: _Registry) -> None:
    client = _client(registry)
    layer = max(registry.blobs, key=lambda d: len(registry.blobs[d]))  # sent in 1000-byte chunks
    blob = registry.blobs[layer]
    with client.open_blob(Digest(layer)) as f:  # read1: what has arrived, one chunk at most
        pieces = []
        while piece := f.read1(700):  # type: ignore[attr-defined]
            assert len(piece) <= 700
            pieces.append(piece)
    assert b"".join(pieces) == blob
    assert len(registry.blobs[layer]) > 1000  # two chunks at least
    for size in (1, 999, 1000, 1001, 4096):
        with client.open_blob(Digest(layer)) as f:  # read(n): n bytes, fewer only at the end
            parts = []
            while part := f.read(size):
                parts.append(part)
        assert all(len(p) == size for p in parts[:-1]) and b"".join(parts) == blob
    buffer = bytearray(1500)
    with client.open_blob(Digest(layer)) as f:
        assert f.readinto(buffer) > 0  # type: ignore[attr-defined]
        assert bytes(buffer[:10]) == blob[:10]
    client.close()


def test_the_same_bytes_as_httpx_reads(registry: _Registry) -> None:
    ours, theirs = _client(registry), _client(registry, transport=httpx.HTTPTransport())
    assert not isinstance(theirs._http, StdlibHttp)
    assert ours.manifest("v1") == theirs.manifest("v1")
    for digest in registry.blobs:
        with ours.open_blob(Digest(digest)) as a, theirs.open_blob(Digest(digest)) as b:
            assert a.read() == b.read()


def test_refusals_and_a_cut_short_blob(registry: _Registry) -> None:
    with pytest.raises(AuthenticationFailed):
        _client(registry, creds=None).manifest("v1")
    with pytest.raises(AuthenticationFailed):
        _client(registry, creds=("alice", "wrong")).manifest("v1")
    client = _client(registry)
    layer = next(d for d in registry.blobs if d != registry.image.digest)
    registry.cut.add(layer)
    with (
        pytest.raises(RemoteRegistryError, match="interrupted"),
        client.open_blob(Digest(layer)) as f,
    ):
        f.read()
    with pytest.raises(RemoteRegistryError, match="cannot connect"):
        RegistryClient(RegistryRef.parse("127.0.0.1:1/x:y"), tls_verify=False).manifest("y")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server(lambda h: _send(h, 200, b"hello"), tls=context)
    yield server, cert
    server.stop()


def test_tls_is_verified_as_httpx_verifies_it(
    tls_server: tuple[_Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    url = f"https://127.0.0.1:{server.port}/v2/"
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    # certifi's bundle does not hold a self-signed certificate
    ref = RegistryRef.parse(f"127.0.0.1:{server.port}/x:y")
    with pytest.raises(RemoteRegistryError, match="certificate"):
        RegistryClient(ref, tls_verify=True).manifest("y")
    assert open_http(False, 10).get(url, {}).read() == b"hello"
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert open_http(True, 10).get(url, {}).read() == b"hello"


def _endless(h: BaseHTTPRequestHandler, status: int, **headers: str) -> None:
    """A chunked body that never ends (until the client goes away)."""
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"x" * 65536
    try:
        while True:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass


@pytest.mark.parametrize("use_httpx", [False, True])
def test_an_endless_body_is_refused_not_buffered(use_httpx: bool) -> None:
    """A hostile server answering the small requests (an error, the token endpoint) with a body
    that never ends gets a clear error once the client has read `SMALL_BODY` bytes."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token"):
            _endless(h, 200)
        elif h.path.startswith("/v2/x/manifests/"):
            realm = f'Bearer realm="http://{h.headers["Host"]}/token",service="s"'
            _send(h, 401, WWW_Authenticate=realm)
        elif h.path.startswith("/v2/e/manifests/"):
            _endless(h, 500)
        else:
            _send(h, 200, b"{}")

    server = _Server(handle)
    transport = httpx.HTTPTransport() if use_httpx else None
    try:
        big = open_http(False, 10, transport=transport)
        with pytest.raises(BodyError, match="larger than"):
            big.get(f"http://127.0.0.1:{server.port}/token", {}).read()
        for repo, error in (("x", AuthenticationFailed), ("e", RemoteRegistryError)):
            ref = RegistryRef.parse(f"127.0.0.1:{server.port}/{repo}:y")
            client = RegistryClient(ref, tls_verify=False, transport=transport)
            with pytest.raises(error):
                client.manifest("y")
    finally:
        server.stop()
