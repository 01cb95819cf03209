"""The /v2/ routes of the OCI Distribution Spec v1.1.

Handlers translate HTTP to registry calls and back; they hold no registry logic. Sync registry
calls run in the thread pool; request bodies stream to the blob store in 1 MiB batches so a
large layer never sits in memory and hashing (which releases the GIL) overlaps the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO
from urllib.parse import urlencode

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dockwatch.model.digest import Digest
from dockwatch.pullpolicy.gate import PullGate, PullRefusedError
from dockwatch.registry.errors import (
    BlobUploadInvalid,
    DigestInvalidError,
    ManifestTooLarge,
    SizeInvalid,
)
from dockwatch.registry.service import Registry
from dockwatch.registry.tags import Page, parse_page_size
from dockwatch.registry.uploads import parse_client_digest
from dockwatch.storage.blobs.blobstore import BlobWriter, PresignedBlobs

from .blob_responses import BATCH, opens_before_answering, serve_blob, stream_blob
from .codes import error_for

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


Handler = Callable[[Request, "OciApi", dict[str, str]], Awaitable[Response]]


def oci_error(exc: BaseException) -> Response:
    """Render an exception as the spec's error body with its status."""
    err = error_for(exc)
    body = {"errors": [{"code": err.code, "message": err.message, "detail": err.detail}]}
    # for HEAD the server sends these headers and drops the body
    return JSONResponse(body, status_code=err.status, headers=API_VERSION)


def _location(name: str, kind: str, ref: str) -> str:
    return f"/v2/{name}/{kind}/{ref}"


def _range(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


class OciApi:
    """The /v2/ dispatcher bound to one registry."""

    def __init__(
        self,
        registry: Registry,
        pull_gate: PullGate | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.pull_gate = pull_gate
        """Judges manifest GETs (docs/pull-policies.md); None serves every pull."""
        self.on_refused = on_refused
        """Called with the primary reason of each refused pull (the metric)."""
        self.blob_redirect_seconds: int | None = None
        """Set: blob GETs answer 307 to a presigned URL of a store that can sign one."""
        self.routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"^/v2/?$"), {"GET": _base, "HEAD": _base}),
            (re.compile(r"^/v2/_catalog$"), {"GET": _catalog}),
            (re.compile(r"^/v2/(?P<name>.+)/tags/list$"), {"GET": _tags}),
            (
                re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$"),
                {
                    "GET": _get_manifest,
                    "HEAD": _get_manifest,
                    "PUT": _put_manifest,
                    "DELETE": _delete_manifest,
                },
            ),
            (
                re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$"),
                {"POST": _start_upload},
            ),
            (
                re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[^/]+)$"),
                {
                    "GET": _upload_status,
                    "PATCH": _patch_upload,
                    "PUT": _put_upload,
                    "DELETE": _cancel_upload,
                },
            ),
            (
                re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$"),
                {"GET": _get_blob, "HEAD": _get_blob, "DELETE": _delete_blob},
            ),
            (re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$"), {"GET": _referrers}),
        ]

    async def __call__(self, request: Request) -> Response:
        """Dispatch one request."""
        path = request.url.path
        for pattern, methods in self.routes:
            m = pattern.match(path)
            if m is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "code": "UNSUPPORTED",
                                "message": "The operation is unsupported.",
                                "detail": None,
                            }
                        ]
                    },
                    status_code=405,
                    headers=API_VERSION,
                )
            try:
                return await handler(request, self, m.groupdict())
            except Exception as exc:  # every error leaves as an OCI body, never a traceback
                if error_for(exc).code == "UNKNOWN":
                    import logging

                    logging.getLogger(__name__).exception(
                        "unexpected error on %s %s", request.method, path
                    )
                return oci_error(exc)
        return JSONResponse(
            {
                "errors": [
                    {
                        "code": "NAME_UNKNOWN",
                        "message": "repository name not known to registry",
                        "detail": None,
                    }
                ]
            }
            if path.startswith("/v2/")
            else {"errors": []},
            status_code=404,
            headers=API_VERSION,
        )

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a sync registry call in the thread pool."""
        return await to_thread.run_sync(fn, *args)


async def _base(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    return JSONResponse({}, headers=API_VERSION)


def _paged(path: str, body: dict[str, Any], page: Page, n: int | None) -> Response:
    """A listing with the spec's `Link: <...?last=&n=>; rel="next"` when more follow."""
    headers = dict(API_VERSION)
    if page.more and page.items:
        query = urlencode({"last": page.items[-1], "n": n})
        headers["Link"] = f'<{path}?{query}>; rel="next"'
    return JSONResponse(body, headers=headers)


async def _catalog(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    n = parse_page_size(request.query_params.get("n"))
    page = await api.run(api.registry.tags.catalog, n, request.query_params.get("last"))
    return _paged("/v2/_catalog", {"repositories": page.items}, page, n)


async def _tags(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    n = parse_page_size(request.query_params.get("n"))
    page = await api.run(api.registry.tags.list, p["name"], n, request.query_params.get("last"))
    return _paged(f"/v2/{p['name']}/tags/list", {"name": p["name"], "tags": page.items}, page, n)


# --- manifests ---------------------------------------------------------------------------


def _accept_list(request: Request) -> list[str]:
    out: list[str] = []
    for value in request.headers.getlist("accept"):
        for part in value.split(","):
            media = part.split(";")[0].strip()
            if media:
                out.append(media)
    return out


async def _get_manifest(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    head = request.method == "HEAD"
    m = await api.run(
        lambda: api.registry.manifests.get(
            p["name"], p["ref"], _accept_list(request), record_pull=not head
        )
    )
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": m.digest,
        "Content-Type": m.media_type,
        "Content-Length": str(len(m.content)),
        "Etag": f'"{m.digest}"',
    }
    if not head:  # HEAD reveals the digest only; the GET that follows is judged
        await _judge_pull(api, p, m.digest, m.media_type, m.content)
    return Response(b"" if head else m.content, headers=headers, media_type=m.media_type)


async def _judge_pull(
    api: OciApi, p: dict[str, str], digest: str, media_type: str, content: bytes
) -> None:
    """Raise `PullRefusedError` (DENIED) when a pull policy refuses the manifest served."""
    gate = api.pull_gate
    if gate is None:
        return
    verdict = await api.run(gate.judge, p["name"], digest, media_type, content)
    if verdict is None or not verdict.refused:
        return
    await api.run(gate.record_refusal, verdict, p["ref"])
    if api.on_refused is not None:
        api.on_refused(verdict.primary_reason)
    raise PullRefusedError(verdict)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ManifestTooLarge(f"manifest of {declared} bytes exceeds the {limit} byte limit")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ManifestTooLarge(f"manifest exceeds the {limit} byte limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    if declared is not None and declared.isdigit() and int(declared) != len(body):
        raise SizeInvalid(f"Content-Length {declared} but {len(body)} bytes received")
    return body


async def _put_manifest(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    limit = api.registry.ctx.max_manifest_bytes
    body = await _read_limited(request, limit)
    extra_tags = request.query_params.getlist("tag")
    result = await api.run(
        api.registry.manifests.put,
        p["name"],
        p["ref"],
        body,
        request.headers.get("content-type"),
        extra_tags,
    )
    headers = {
        **API_VERSION,
        "Location": _location(p["name"], "manifests", result.digest),
        "Docker-Content-Digest": result.digest,
        "Content-Length": "0",
    }
    if result.subject is not None:
        headers["OCI-Subject"] = result.subject
    return Response(status_code=201, headers=headers)


async def _delete_manifest(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    await api.run(api.registry.manifests.delete, p["name"], p["ref"])
    return Response(status_code=202, headers={**API_VERSION, "Content-Length": "0"})


async def _referrers(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    digest = parse_client_digest(p["digest"])
    artifact_type = request.query_params.get("artifactType")
    index = await api.run(api.registry.manifests.referrers, p["name"], digest, artifact_type)
    headers = dict(API_VERSION)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return Response(
        json.dumps(index).encode(),
        headers=headers,
        media_type="application/vnd.oci.image.index.v1+json",
    )


# --- blobs -------------------------------------------------------------------------------


async def _get_blob(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    digest = parse_client_digest(p["digest"])
    uploads, store = api.registry.uploads, api.registry.ctx.blobs
    signed = store if api.blob_redirect_seconds and isinstance(store, PresignedBlobs) else None
    streamed = opens_before_answering(request, store) and signed is None
    # a blob streamed from the store is opened before the answer: no need to ask it first
    stat = uploads.linked_size if streamed else uploads.stat_blob
    size = await api.run(stat, p["name"], digest)
    headers = {
        **API_VERSION,
        "Docker-Content-Digest": digest,
        "Etag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
    }
    if signed is not None and request.method == "GET":
        url = await api.run(signed.presigned_url, digest, api.blob_redirect_seconds)
        headers.pop("Cache-Control")  # the signed URL expires; the redirect must not outlive it
        return Response(status_code=307, headers={**headers, "Location": url})
    if streamed:

        async def open_at(first: int) -> BinaryIO:
            stream: BinaryIO = await api.run(uploads.open_linked, digest, first)
            return stream

        return await stream_blob(request, size, headers, open_at)
    return serve_blob(request, store, digest, size, headers)


async def _delete_blob(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    digest = parse_client_digest(p["digest"])
    await api.run(api.registry.uploads.delete_blob, p["name"], digest)
    return Response(status_code=202, headers={**API_VERSION, "Content-Length": "0"})


def _upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return {
        **API_VERSION,
        "Location": _location(name, "blobs/uploads", upload_id),
        "Range": _range(size),
        "Docker-Upload-UUID": upload_id,
        "Content-Length": "0",
    }


def _created_blob(name: str, digest: Digest) -> Response:
    return Response(
        status_code=201,
        headers={
            **API_VERSION,
            "Location": _location(name, "blobs", digest),
            "Docker-Content-Digest": digest,
            "Content-Length": "0",
        },
    )


async def _stream_into(request: Request, api: OciApi, writer: BlobWriter) -> int:
    """Append the request body to an upload; undo the partial chunk on any failure."""
    start = writer.size()
    declared = request.headers.get("content-length")
    received = 0
    buf = bytearray()
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            buf += chunk
            received += len(chunk)
            if len(buf) >= BATCH:
                data = bytes(buf)
                buf.clear()
                await api.run(writer.write, data)
        if buf:
            await api.run(writer.write, bytes(buf))
        if declared is not None and declared.isdigit() and int(declared) != received:
            raise SizeInvalid(f"Content-Length {declared} but {received} bytes received")
    except BaseException:  # a disconnect, a short body or a full disk: drop the partial chunk
        await api.run(writer.truncate, start)
        raise
    return received


def _check_content_range(request: Request, current: int) -> None:
    value = request.headers.get("content-range")
    if value is None:
        return
    m = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(\d+|\*))?", value.strip())
    if m is None:
        raise BlobUploadInvalid(f"malformed Content-Range {value!r}", range_not_satisfiable=True)
    start, end = int(m.group(1)), int(m.group(2))
    if start != current or end < start:
        raise BlobUploadInvalid(
            f"chunk {start}-{end} out of order: upload is at {current}", range_not_satisfiable=True
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) != end - start + 1:
        raise BlobUploadInvalid(
            "Content-Length disagrees with Content-Range", range_not_satisfiable=True
        )


async def _start_upload(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    name = p["name"]
    q = request.query_params
    if "mount" in q:
        mount = parse_client_digest(q["mount"])
        result = await api.run(api.registry.uploads.mount, name, mount, q.get("from"))
        if result.mounted:
            return _created_blob(name, mount)
        assert result.upload_id is not None
        return Response(status_code=202, headers=_upload_headers(name, result.upload_id, 0))
    digest = parse_client_digest(q["digest"]) if "digest" in q else None
    upload_id = await api.run(api.registry.uploads.start, name)
    if digest is None:
        # a body on a plain POST is not part of the protocol; ignore it as distribution does
        return Response(status_code=202, headers=_upload_headers(name, upload_id, 0))
    writer = await api.run(api.registry.uploads.claim, name, upload_id)
    try:
        await _stream_into(request, api, writer)
        await api.run(api.registry.uploads.complete, name, upload_id, writer, digest)
    finally:
        api.registry.uploads.release(upload_id, writer)
    return _created_blob(name, digest)


async def _upload_status(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    writer = await api.run(api.registry.uploads.writer, p["name"], p["id"])
    try:
        size = writer.size()
    finally:
        writer.close()
    headers = _upload_headers(p["name"], p["id"], size)
    return Response(status_code=204, headers=headers)


async def _patch_upload(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    writer = await api.run(api.registry.uploads.claim, p["name"], p["id"])
    try:
        _check_content_range(request, writer.size())
        await _stream_into(request, api, writer)
        size = writer.size()
    finally:
        api.registry.uploads.release(p["id"], writer)
    return Response(status_code=202, headers=_upload_headers(p["name"], p["id"], size))


async def _put_upload(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    q = request.query_params
    if "digest" not in q:
        raise DigestInvalidError("the digest query parameter is required to complete an upload")
    digest = parse_client_digest(q["digest"])
    writer = await api.run(api.registry.uploads.claim, p["name"], p["id"])
    try:
        if request.headers.get("content-range") is not None:
            _check_content_range(request, writer.size())
        await _stream_into(request, api, writer)
        await api.run(api.registry.uploads.complete, p["name"], p["id"], writer, digest)
    finally:
        api.registry.uploads.release(p["id"], writer)
    return _created_blob(p["name"], digest)


async def _cancel_upload(request: Request, api: OciApi, p: dict[str, str]) -> Response:
    await api.run(api.registry.uploads.cancel, p["name"], p["id"])
    return Response(status_code=204, headers={**API_VERSION, "Content-Length": "0"})


__all__ = ["OciApi", "oci_error"]
