"""The S3 blob store: AWS S3 or any S3-compatible store (MinIO, Ceph RGW, Cloudflare R2).

Selected by `DOCKWATCH_BLOB_URL=s3://bucket/prefix`; credentials, region and endpoint come from
the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL_S3`, ...), which
boto3 reads itself. Layout under the prefix::

    blobs/sha256/ab/abcdef0123...          one object per blob, written once, never rewritten
    uploads/<id>/.upload                   marker: the upload exists (its time is the start)
    uploads/<id>/part-<offset>             received bytes, >= 5 MiB each, named by their offset
    uploads/<id>/tail-<offset>             bytes after the last part (< one part), rewritten at
                                           the end of each request that added some

An upload lives entirely in the bucket, so any API process can continue it: the next writer
lists `uploads/<id>/`, takes the parts that follow each other from offset 0 and the tail whose
offset is where they end (older tails, left by a process that died between writing a part and
rewriting the tail, are ignored). Small chunks are buffered in memory up to `part_size`.

**The running digest across processes.** hashlib states cannot be serialized, so each process
keeps a sha256 per upload it is writing (advanced as bytes arrive, like the filesystem store).
When the commit lands on a process that does not hold the hasher for the upload's current size
(the upload moved between processes, or the digest is not sha256), the hasher is rebuilt by
reading the parts and tail back from the bucket: one extra read of the upload's bytes, paid only
by uploads that changed process. Uploads that stay on one process hash each byte once.

**Commit.** The verified bytes are assembled at the content address by one S3 multipart upload
whose parts are server-side copies of the part objects (`UploadPartCopy`: no bytes go through
dockwatch again); an upload smaller than one part is a single `PutObject` of the bytes the
committing process holds in memory (the tail it read at the request's start and what the
request added), with nothing saved before it. Both are conditional
(`If-None-Match: *`): when two commits of one digest race, the second is refused with 412 and
treated as success (the address holds the same bytes). Stores that refuse the header fall back
to HEAD-then-write, where a race rewrites identical bytes, which is harmless too.

**Limits.** Two requests writing one upload at the same moment are refused within a process
(`registry.uploads.claim`), not across processes: clients send an upload's chunks one after the
other, so this does not arise with real clients. A process killed between a part and its tail
loses nothing (the part holds the bytes, the stale tail is ignored); the upload then reports
the larger size, which the client reads from the `Range` header before resuming.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from dockwatch.errors import BackendUnavailable, InvalidInput
from dockwatch.model.digest import ALGORITHMS, Digest
from dockwatch.storage.blobs.blobstore import (
    BlobInfo,
    BlobNotFound,
    BlobStoreError,
    UploadNotFound,
)
from dockwatch.storage.blobs.s3_writer import Piece, S3BlobWriter

logger = logging.getLogger(__name__)

MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last
DEFAULT_PART = 8 * 1024 * 1024
READ_BATCH = 1 << 20
HEADS_AT_ONCE = 16
"""Blob objects `missing` asks about side by side (the client's pool holds 32 connections)."""
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_PIECE = re.compile(r"^(part|tail)-(\d{15})$")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_RACE_LOST = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}
_NOT_SUPPORTED = {"501", "NotImplemented"}


class S3Unavailable(BlobStoreError, BackendUnavailable):
    """The bucket could not be reached or refused a request dockwatch needs: the registry
    answers 503 UNAVAILABLE, naming the store's error, where botocore's exception gave 500."""

    backend = "s3"


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _answered(
    call: Callable[Concatenate[S3BlobStore, _P], _R],
) -> Callable[Concatenate[S3BlobStore, _P], _R]:
    """`call` with the store's failures (an error the bucket answered that `call` does not
    handle itself, or no answer at all) raised as `S3Unavailable`."""

    def wrapper(store: S3BlobStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return call(store, *args, **kwargs)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            raise S3Unavailable(f"bucket {store.bucket}: {_code(exc)}: {message}") from exc
        except BotoCoreError as exc:
            raise S3Unavailable(f"bucket {store.bucket}: {exc}") from exc

    functools.update_wrapper(wrapper, call)
    return wrapper


def parse_blob_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at its ends)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInput(f"blob URL must look like s3://bucket/prefix, got {url!r}")
    return parts.netloc, parts.path.strip("/")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _Hasher:
    """A running sha256 of an upload, valid while `offset` equals the upload's size."""

    __slots__ = ("hasher", "offset")

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0


class _BodyReader(io.RawIOBase):
    """A GetObject body as a raw stream (wrapped in a BufferedReader by `open`)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._body.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3BlobStore:
    """Blobs as S3 objects under `s3://bucket/prefix`; see the module docstring."""

    name = "s3"

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        part_size: int = DEFAULT_PART,
        conditional_writes: bool = True,
    ) -> None:
        if part_size < MIN_PART:
            raise InvalidInput(f"S3 part size must be at least {MIN_PART} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.conditional_writes = conditional_writes
        self._hashes: dict[str, _Hasher] = {}
        self._lock = threading.Lock()
        self._heads: ThreadPoolExecutor | None = None  # `missing`'s, made when first needed

    @classmethod
    def from_url(cls, url: str, addressing_style: str = "auto") -> S3BlobStore:
        """A store for `s3://bucket/prefix`, its client configured from the AWS environment."""
        import boto3
        from botocore.config import Config

        bucket, prefix = parse_blob_url(url)
        config = Config(
            s3={"addressing_style": addressing_style},  # type: ignore[arg-type]
            signature_version="s3v4",
            max_pool_connections=32,
            retries={"mode": "standard"},
        )
        return cls(boto3.client("s3", config=config), bucket, prefix)

    # --- keys ----------------------------------------------------------------------------

    def blob_key(self, digest: Digest) -> str:
        algorithm, _, encoded = digest.partition(":")
        return f"{self.prefix}blobs/{algorithm}/{encoded[:2]}/{encoded}"

    def upload_key(self, upload_id: str, name: str) -> str:
        return f"{self.prefix}uploads/{upload_id}/{name}"

    # --- BlobStore -----------------------------------------------------------------------

    @_answered
    def ping(self) -> None:
        """Raise unless the bucket answers (health checks)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise S3Unavailable(f"bucket {self.bucket}: {_code(exc)}") from exc

    @_answered
    def stat(self, digest: Digest) -> BlobInfo | None:
        """HEAD the blob object."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.blob_key(digest))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return BlobInfo(digest, int(head["ContentLength"]))

    def missing(self, digests: Collection[Digest]) -> set[Digest]:
        """HEAD each blob object, `HEADS_AT_ONCE` at a time: a manifest of 20 layers waited
        for 20 round trips one after the other, inside the push's write transaction."""
        wanted = list(dict.fromkeys(digests))
        if len(wanted) <= 1:
            return {d for d in wanted if self.stat(d) is None}
        with self._lock:
            if self._heads is None:
                self._heads = ThreadPoolExecutor(HEADS_AT_ONCE, thread_name_prefix="s3-head")
            pool = self._heads
        found = pool.map(self.stat, wanted)
        return {d for d, info in zip(wanted, found, strict=True) if info is None}

    @_answered
    def open(self, digest: Digest, offset: int = 0) -> BinaryIO:
        """Stream the object from `offset` (one ranged GET)."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.blob_key(digest)}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            body = self.client.get_object(**args)["Body"]
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobNotFound(digest) from exc
            if _code(exc) in ("InvalidRange", "416"):  # offset at the end: nothing left
                return io.BytesIO(b"")
            raise
        return io.BufferedReader(_BodyReader(body), READ_BATCH)

    def presigned_url(self, digest: Digest, expires_seconds: int) -> str:
        """A time-limited GET URL of the blob, for redirecting pulls to the store."""
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.blob_key(digest)},
                ExpiresIn=expires_seconds,
            )
        )

    @_answered
    def writer(self, upload_id: str, create: bool = False) -> S3BlobWriter:
        """Open (or with `create`, start) an upload."""
        if not _UPLOAD_ID.match(upload_id):
            raise UploadNotFound(upload_id)
        if create:
            marker = self.upload_key(upload_id, ".upload")
            self.put_bytes(marker, b"")
            return S3BlobWriter(self, upload_id, [], b"", [marker])
        prefix = self.upload_key(upload_id, "")
        objects = self.list_objects(prefix)
        if not any(o["Key"] == f"{prefix}.upload" for o in objects):
            raise UploadNotFound(upload_id)
        parts: list[Piece] = []
        tails: dict[int, str] = {}
        for o in sorted(objects, key=lambda o: o["Key"]):
            m = _PIECE.match(o["Key"][len(prefix) :])
            if m is None:
                continue
            if m.group(1) == "tail":
                tails[int(m.group(2))] = o["Key"]
            elif int(m.group(2)) == sum(p.size for p in parts):  # contiguous parts only
                parts.append(Piece(int(m.group(2)), int(o["Size"]), o["Key"]))
        end = sum(p.size for p in parts)
        tail = self.get_bytes(tails[end]) if end in tails else b""
        return S3BlobWriter(self, upload_id, parts, tail, [o["Key"] for o in objects])

    @_answered
    def upload_ids(self) -> list[tuple[str, float]]:
        """Uploads in progress, each with the newest time of its objects."""
        base = f"{self.prefix}uploads/"
        newest: dict[str, float] = {}
        for o in self.list_objects(base):
            upload_id = o["Key"][len(base) :].split("/", 1)[0]
            at = o["LastModified"].timestamp()
            newest[upload_id] = max(at, newest.get(upload_id, 0.0))
        return sorted(newest.items())

    @_answered
    def delete(self, digest: Digest) -> None:
        """Delete the blob object (missing is not an error in S3 either)."""
        self.client.delete_object(Bucket=self.bucket, Key=self.blob_key(digest))

    @_answered
    def digests(self) -> list[Digest]:
        """Every blob object under the prefix."""
        out: list[Digest] = []
        for algorithm in ALGORITHMS:
            base = f"{self.prefix}blobs/{algorithm}/"
            for o in self.list_objects(base):
                encoded = o["Key"].rsplit("/", 1)[-1]
                out.append(Digest(f"{algorithm}:{encoded}"))
        return out

    # --- S3 calls ------------------------------------------------------------------------

    @_answered
    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    @_answered
    def get_bytes(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    @_answered
    def list_objects(self, prefix: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return [dict(o) for page in pages for o in page.get("Contents", [])]

    @_answered
    def delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    @_answered
    def remove_upload(self, upload_id: str, keys: Collection[str] | None = None) -> None:
        """Delete the upload's objects: `keys` when its writer knows them, else those listed."""
        self._hash_forget(upload_id)
        if keys is None:
            keys = [o["Key"] for o in self.list_objects(self.upload_key(upload_id, ""))]
        # the marker goes last: a process dying half-way leaves a listed upload for gc
        self.delete_keys(sorted(keys, key=lambda k: k.endswith("/.upload")))

    @_answered
    def assemble(self, target: str, pieces: list[Piece], data: bytes | None = None) -> None:
        """Write `data` (an upload held in memory) or else `pieces` (upload objects, in
        order) at `target`, once."""
        if self.conditional_writes:
            try:
                self._write_target(target, pieces, data, conditional=True)
                return
            except ClientError as exc:
                if _code(exc) in _RACE_LOST:
                    logger.debug("%s already written by a concurrent commit", target)
                    return
                if _code(exc) not in _NOT_SUPPORTED:
                    raise
                logger.info("the store refuses If-None-Match: falling back to HEAD-then-write")
                self.conditional_writes = False
        try:
            self.client.head_object(Bucket=self.bucket, Key=target)
            return  # already there: content addressing makes it the same bytes
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
        self._write_target(target, pieces, data, conditional=False)

    def _write_target(
        self, target: str, pieces: list[Piece], data: bytes | None, conditional: bool
    ) -> None:
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        if data is not None or len(pieces) <= 1:
            if data is None:
                data = self.get_bytes(pieces[0].key) if pieces else b""
            self.client.put_object(Bucket=self.bucket, Key=target, Body=data, **extra)
            return
        mpu = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)
        try:
            done = []
            for number, piece in enumerate(pieces, start=1):
                copied = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=target,
                    UploadId=mpu["UploadId"],
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": piece.key},
                )
                done.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=target,
                UploadId=mpu["UploadId"],
                MultipartUpload={"Parts": done},
                **extra,
            )
        except BaseException:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=target, UploadId=mpu["UploadId"]
            )
            raise

    # --- running hashes ------------------------------------------------------------------

    def hash_advance(self, upload_id: str, start: int, data: bytes) -> None:
        with self._lock:
            state = self._hashes.get(upload_id)
            if state is None and start == 0:
                state = self._hashes[upload_id] = _Hasher()
            if state is None or state.offset != start:
                self._hashes.pop(upload_id, None)
                return
            state.hasher.update(data)
            state.offset += len(data)

    def hash_truncate(self, upload_id: str, size: int) -> None:
        with self._lock:
            state = self._hashes.get(upload_id)
            if state is not None and state.offset != size:
                self._hashes.pop(upload_id, None)

    def _hash_forget(self, upload_id: str) -> None:
        with self._lock:
            self._hashes.pop(upload_id, None)

    @_answered
    def upload_digest(self, upload_id: str, writer: S3BlobWriter, algorithm: str) -> Digest:
        with self._lock:
            state = self._hashes.get(upload_id)
            if algorithm == "sha256" and state is not None and state.offset == writer.size():
                return Digest(f"sha256:{state.hasher.hexdigest()}")
        logger.info("upload %s: rebuilding its %s from the bucket", upload_id, algorithm)
        hasher = hashlib.new(algorithm)
        for piece in writer.parts:
            body = self.client.get_object(Bucket=self.bucket, Key=piece.key)["Body"]
            try:
                for chunk in body.iter_chunks(READ_BATCH):
                    hasher.update(chunk)
            finally:
                body.close()
        hasher.update(writer.buffered)
        return Digest(f"{algorithm}:{hasher.hexdigest()}")
