"""Serving a blob's bytes: whole files in large reads, byte ranges, and ranges refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dockwatch.model.digest import Digest
from dockwatch.storage.blobs.blobstore import BlobStore, LocalBlobPaths

BATCH = 1 << 20


def opens_before_answering(request: Request, store: BlobStore) -> bool:
    """True for a GET of a store without local files: `stream_blob` answers it, opening the
    object first, so that the store need not be asked beforehand whether it holds it."""
    return request.method == "GET" and not isinstance(store, LocalBlobPaths)


def _refused_range(request: Request, size: int, headers: dict[str, str]) -> Response | None:
    if not _inverted_range(request.headers.get("range")):
        return None
    # RFC 9110 calls a last-pos below the first-pos invalid; the distribution-spec
    # conformance suite (and distribution itself) answer 416, so do we.
    headers["Content-Range"] = f"bytes */{size}"
    return Response(status_code=416, headers=headers)


def serve_blob(
    request: Request, store: BlobStore, digest: Digest, size: int, headers: dict[str, str]
) -> Response:
    """The response to a blob HEAD, or GET of a local file, honouring a `Range` header."""
    refused = _refused_range(request, size, headers)
    if refused is not None:
        return refused
    if isinstance(store, LocalBlobPaths):
        path = store.local_path(digest)
        if request.method == "GET" and "range" not in request.headers:
            return BlobFileResponse(path, size, headers)
        # HEAD and Range requests: starlette's FileResponse implements them fully
        return FileResponse(path, headers=headers, media_type="application/octet-stream")
    assert request.method == "HEAD", "a GET from the store is `stream_blob`'s"
    headers["Content-Length"] = str(size)
    headers["Accept-Ranges"] = "bytes"
    return Response(status_code=200, headers=headers, media_type="application/octet-stream")


async def stream_blob(
    request: Request,
    size: int,
    headers: dict[str, str],
    open_at: Callable[[int], Awaitable[BinaryIO]],
) -> Response:
    """The response to a blob GET from a store without local files (S3), honouring a `Range`
    header. The object is opened (`open_at` the first byte sent) before the status is
    chosen, so a blob whose bytes are gone is refused by what opening it raises: no request
    asks the store first whether it holds the blob (on moto's server, that HEAD took a third
    of the time of pulling a 4 MiB blob)."""
    refused = _refused_range(request, size, headers)
    if refused is not None:
        return refused
    first, last = _single_range(request.headers.get("range"), size) or (0, size - 1)
    status = 200
    if (first, last) != (0, size - 1):
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    stream = await open_at(first)

    def chunks() -> Any:
        left = last - first + 1
        with stream as f:
            while left > 0 and (chunk := f.read(min(BATCH, left))):
                left -= len(chunk)
                yield chunk

    headers["Content-Length"] = str(last - first + 1)
    headers["Accept-Ranges"] = "bytes"
    return StreamingResponse(
        chunks(), status_code=status, headers=headers, media_type="application/octet-stream"
    )


def _single_range(value: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a satisfiable single `bytes=` range; None: send the whole blob."""
    if value is None or size == 0:
        return None
    unit, _, spec = value.partition("=")
    first_text, dash, last_text = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    first_text, last_text = first_text.strip(), last_text.strip()
    if first_text.isdigit():
        first = int(first_text)
        last = int(last_text) if last_text.isdigit() else size - 1
    elif last_text.isdigit() and int(last_text) > 0:  # a suffix: the last N bytes
        first, last = max(0, size - int(last_text)), size - 1
    else:
        return None
    if first >= size:
        return None
    return first, min(last, size - 1)


def _inverted_range(value: str | None) -> bool:
    """True for a `bytes=FIRST-LAST` range whose LAST is below its FIRST."""
    if value is None:
        return False
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes":
        return False
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    for part in parts:
        first, dash, last = part.partition("-")
        if not (dash and first.strip().isdigit() and last.strip().isdigit()):
            return False
        if int(last) >= int(first):
            return False
    return bool(parts)


class BlobFileResponse(Response):
    """A whole blob file streamed in 1 MiB reads.

    Starlette's FileResponse reads 64 KiB per thread hop, which caps one pull stream near
    300 MB/s here; a blob GET is the hot path of every pull, so it gets larger reads.
    """

    def __init__(self, path: Path, size: int, headers: dict[str, str]) -> None:
        super().__init__(
            status_code=200,
            headers={**headers, "Content-Length": str(size), "Accept-Ranges": "bytes"},
            media_type="application/octet-stream",
        )
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the headers, then the file."""
        f = await to_thread.run_sync(self.path.open, "rb")
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while True:
                chunk = await to_thread.run_sync(f.read, BATCH)
                await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})
                if not chunk:
                    break
        finally:
            f.close()
