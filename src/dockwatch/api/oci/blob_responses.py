"""Serving a blob's bytes: whole files in large reads, byte ranges, and ranges refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dockwatch.model.digest import Digest
from dockwatch.storage.blobs.blobstore import BlobStore, LocalBlobPaths

BATCH = 1 << 20


def serve_blob(
    request: Request, store: BlobStore, digest: Digest, size: int, headers: dict[str, str]
) -> Response:
    """The response to a blob GET or HEAD, honouring a `Range` header."""
    if _inverted_range(request.headers.get("range")):
        # RFC 9110 calls a last-pos below the first-pos invalid; the distribution-spec
        # conformance suite (and distribution itself) answer 416, so do we.
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    if isinstance(store, LocalBlobPaths):
        path = store.local_path(digest)
        if request.method == "GET" and "range" not in request.headers:
            return BlobFileResponse(path, size, headers)
        # HEAD and Range requests: starlette's FileResponse implements them fully
        return FileResponse(path, headers=headers, media_type="application/octet-stream")
    if request.method == "HEAD":
        headers["Content-Length"] = str(size)
        headers["Accept-Ranges"] = "bytes"
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")

    first, last = _single_range(request.headers.get("range"), size) or (0, size - 1)
    status = 200
    if (first, last) != (0, size - 1):
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"

    def chunks() -> Any:
        left = last - first + 1
        with store.open(digest, first) as f:
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
