"""The HTTP under `docker://`: GETs with redirects, over `http.client` for direct connections.

`dockwatch sbom docker://...` is a short process, and httpx's import and client set-up cost it
~37 ms of CPU (measured after http.client and ssl, which both need, were imported: 36-40 ms
against 1-2 ms here), a sixth of a small image's run. This is the part of an HTTP client a pull
needs: keep-alive connections per origin, streamed bodies, redirects (a registry sends blobs to
its storage: S3, a CDN) with the credentials dropped when they leave the origin, httpx's
certificate choice (SSL_CERT_FILE, SSL_CERT_DIR, else certifi's bundle) and timeouts. With a
proxy configured in the environment (which httpx honours) or a transport injected (tests),
`HttpxHttp` serves the same interface through httpx instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

if TYPE_CHECKING:  # imported when a client is built: an `oci:` run never loads them
    import http.client
    import ssl

    import httpx

REDIRECTS = frozenset({301, 302, 303, 307, 308})
SMALL_BODY = 1 << 20
"""What `Response.read` holds at most: the bodies read whole (the `/v2/` probe, redirects, errors,
token responses) are small; a registry sending more is refused, not buffered."""
MAX_REDIRECTS = 20
"""httpx's default."""
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class TransportError(Exception):
    """No response: the connection was refused, reset or timed out, or TLS failed."""


class BodyError(Exception):
    """A response body ended before its end (the connection dropped mid-blob)."""


class Response(Protocol):
    """A response whose body is read on demand."""

    status_code: int
    url: str

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive name), or None."""
        ...

    def iter_bytes(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The body in chunks of at most `size` bytes; raises `BodyError` if it is cut short."""
        ...

    def read(self, limit: int = SMALL_BODY) -> bytes:
        """The whole body; raises `BodyError` past `limit` bytes (a hostile server's endless
        body is never buffered)."""
        ...

    def close(self) -> None:
        """Release the connection (at once reusable when the body was read to its end)."""
        ...


class Http(Protocol):
    """GET with redirects followed."""

    def get(
        self, url: str, headers: Mapping[str, str], params: Mapping[str, str] | None = None
    ) -> Response:
        """Send a GET; the body is not read. Raises `TransportError` when nothing answers."""
        ...

    def close(self) -> None:
        """Close every connection."""
        ...


def read_bounded(chunks: Iterator[bytes], limit: int) -> bytes:
    """The chunks joined, or `BodyError` once they pass `limit` bytes."""
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyError(f"response body larger than {limit} bytes")
        out.append(chunk)
    return b"".join(out)


def proxied() -> bool:
    """Whether the environment names a proxy (as httpx reads it: any case)."""
    return any(k.lower() in PROXY_VARIABLES and v for k, v in os.environ.items())


def tls_context(verify: bool) -> ssl.SSLContext:
    """The context httpx would build for `verify` (its `create_ssl_context`)."""
    import ssl

    if not verify:
        # a bare context: a default one would load every CA certificate only to ignore them
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class _StdlibResponse:
    """`Response` over an `http.client.HTTPResponse`."""

    def __init__(self, raw: http.client.HTTPResponse, url: str, release: _Release) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.url = url
        self._release = release

    def header(self, name: str) -> str | None:
        return self._raw.getheader(name)

    def iter_bytes(self, size: int = 1 << 20) -> Iterator[bytes]:
        import http.client

        while True:
            try:
                chunk = self._raw.read1(size)
            except (OSError, http.client.HTTPException) as exc:
                raise BodyError(str(exc) or type(exc).__name__) from exc
            if not chunk:
                if self._raw.length:  # bytes the Content-Length still owes
                    raise BodyError("connection closed before the end of the body")
                return
            yield chunk

    def read(self, limit: int = SMALL_BODY) -> bytes:
        return read_bounded(self.iter_bytes(), limit)

    def close(self) -> None:
        self._release(self._raw)


class _Release(Protocol):
    def __call__(self, raw: http.client.HTTPResponse) -> None: ...


class StdlibHttp:
    """`Http` over `http.client`: one keep-alive connection per origin."""

    def __init__(self, verify: bool, timeout: float) -> None:
        self._context = tls_context(verify)
        self._timeout = timeout
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}

    def get(
        self, url: str, headers: Mapping[str, str], params: Mapping[str, str] | None = None
    ) -> Response:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        sent = dict(headers)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, sent)
            location = response.header("location")
            if response.status_code not in REDIRECTS or not location:
                return response
            try:
                response.read()  # a redirect's body is small: read it so the connection is reused
            except BodyError:
                pass  # cut short or too long: the connection is closed, not kept
            response.close()
            target = urljoin(url, location)
            if _origin(target) != _origin(url) and not _upgrade(url, target):
                # as httpx: credentials never follow a redirect to another origin
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            url = target
        raise TransportError(f"more than {MAX_REDIRECTS} redirects")

    def _send(self, url: str, headers: dict[str, str]) -> _StdlibResponse:
        import http.client

        scheme, host, port, target = _parts(url)
        key = (scheme, host, port)
        for attempt in range(2):
            conn = self._connections.pop(key, None)
            fresh = conn is None
            if conn is None:
                conn = self._connect(scheme, host, port)
            try:
                conn.request("GET", target, headers=headers)  # Host, identity encoding: added
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if fresh or attempt:  # a kept connection the server closed meanwhile: retry
                    raise TransportError(_describe(exc, url)) from exc
                continue
            return _StdlibResponse(raw, url, lambda r, c=conn: self._release(key, c, r))
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        import http.client

        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._context
            )
        return http.client.HTTPConnection(host, port, timeout=self._timeout)

    def _release(
        self, key: tuple[str, str, int], conn: http.client.HTTPConnection,
        raw: http.client.HTTPResponse,
    ) -> None:  # fmt: skip
        """Keep the connection for the next request if its response was read to the end."""
        done = raw.isclosed() or raw.length == 0  # chunked bodies close at their last chunk
        keep = done and not raw.will_close and key not in self._connections
        raw.close()
        if keep:
            self._connections[key] = conn
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


class _HttpxResponse:
    """`Response` over an httpx streamed response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.url = str(response.url)

    def header(self, name: str) -> str | None:
        value: str | None = self._response.headers.get(name)
        return value

    def iter_bytes(self, size: int = 1 << 20) -> Iterator[bytes]:
        import httpx

        try:
            chunks: Iterator[bytes] = iter([self._response.content])  # read already (mocks)
        except httpx.ResponseNotRead:
            chunks = self._response.iter_bytes(size)
        try:
            yield from chunks
        except httpx.HTTPError as exc:
            raise BodyError(str(exc)) from exc

    def read(self, limit: int = SMALL_BODY) -> bytes:
        return read_bounded(self.iter_bytes(), limit)

    def close(self) -> None:
        self._response.close()


class HttpxHttp:
    """`Http` over httpx: with a proxy from the environment, or an injected transport."""

    def __init__(
        self, verify: bool, timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        import httpx

        self._client = httpx.Client(
            verify=tls_context(verify), transport=transport, follow_redirects=True,
            timeout=timeout,
        )  # fmt: skip

    def get(
        self, url: str, headers: Mapping[str, str], params: Mapping[str, str] | None = None
    ) -> Response:
        import httpx

        try:
            request = self._client.build_request("GET", url, headers=headers, params=params)
            return _HttpxResponse(self._client.send(request, stream=True))
        except httpx.TransportError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        except httpx.TooManyRedirects as exc:
            raise TransportError(str(exc)) from exc

    def close(self) -> None:
        self._client.close()


def open_http(verify: bool, timeout: float, transport: httpx.BaseTransport | None = None) -> Http:
    """The stdlib client, or httpx when a transport is injected or a proxy is configured."""
    if transport is not None or proxied():
        return HttpxHttp(verify, timeout, transport)
    return StdlibHttp(verify, timeout)


def _parts(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target) of an absolute http(s) URL."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise TransportError(f"unsupported URL {url!r}")
    port = split.port or (443 if split.scheme == "https" else 80)
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return split.scheme, split.hostname, port, target


def _origin(url: str) -> tuple[str, str, int]:
    scheme, host, port, _ = _parts(url)
    return scheme, host, port


def _upgrade(url: str, target: str) -> bool:
    """An http -> https redirect on the same host (httpx keeps the credentials then)."""
    a, b = urlsplit(url), urlsplit(target)
    return (
        a.scheme == "http"
        and b.scheme == "https"
        and a.hostname == b.hostname
        and (a.port or 80) == 80
        and (b.port or 443) == 443
    )


def _describe(exc: BaseException, url: str) -> str:
    import ssl

    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return f"timed out ({url})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc}"
    return str(exc) or type(exc).__name__
