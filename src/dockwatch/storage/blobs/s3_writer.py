"""One upload of the S3 blob store, as seen by one request: parts, tail and buffer.

The layout and the cross-process rules are in `s3.py`'s docstring.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

from dockwatch.model.digest import Digest, algorithm_of
from dockwatch.storage.blobs.blobstore import BlobInfo, DigestMismatch
from dockwatch.value_class import frozen


class UploadObjects(Protocol):
    """What a writer needs of its store: object calls and the running hashes."""

    part_size: int

    def upload_key(self, upload_id: str, name: str) -> str: ...
    def blob_key(self, digest: Digest) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def list_objects(self, prefix: str) -> list[dict[str, Any]]: ...
    def delete_keys(self, keys: list[str]) -> None: ...
    def assemble(self, target: str, pieces: list[Piece], data: bytes | None = None) -> None: ...
    def remove_upload(self, upload_id: str, keys: Collection[str] | None = None) -> None: ...
    def hash_advance(self, upload_id: str, start: int, data: bytes) -> None: ...
    def hash_truncate(self, upload_id: str, size: int) -> None: ...
    def upload_digest(self, upload_id: str, writer: S3BlobWriter, algorithm: str) -> Digest: ...


@frozen
class Piece:
    """An upload object holding the bytes from `offset`."""

    offset: int
    size: int
    key: str


class S3BlobWriter:
    """One upload: bytes buffered in memory, flushed as part objects; see the module docstring."""

    def __init__(
        self,
        store: UploadObjects,
        upload_id: str,
        parts: list[Piece],
        tail: bytes,
        keys: Iterable[str] = (),
    ) -> None:
        self.upload_id = upload_id
        self._store = store
        self._keys = set(keys)
        """The upload's objects: those listed when it was opened, and those written since.
        A commit removes them without listing the upload again (clients send an upload's
        requests one after another, so no other process adds any meanwhile; an object that
        appeared anyway is left for the collection of abandoned uploads)."""
        self._parts = parts
        self._persisted = sum(p.size for p in parts)  # bytes in part objects
        self._buffer = bytearray(tail)  # bytes after the parts (the tail object's, then new)
        self._tail_saved = len(tail)  # how much of the buffer the tail object holds
        self._prepared: tuple[Digest, int] | None = None
        self._finished = False

    @property
    def parts(self) -> list[Piece]:
        """The part objects, in order."""
        return list(self._parts)

    @property
    def buffered(self) -> bytes:
        """The bytes after the parts."""
        return bytes(self._buffer)

    def size(self) -> int:
        """Bytes received so far."""
        return self._persisted + len(self._buffer)

    def write(self, data: bytes) -> None:
        """Append; a full part goes to the bucket, the rest waits in memory."""
        start = self.size()
        self._buffer += data
        self._store.hash_advance(self.upload_id, start, data)
        if len(self._buffer) >= self._store.part_size:
            self._flush_part()

    def _flush_part(self) -> None:
        key = self._store.upload_key(self.upload_id, f"part-{self._persisted:015d}")
        data = bytes(self._buffer)
        self._store.put_bytes(key, data)
        self._keys.add(key)
        self._parts.append(Piece(self._persisted, len(data), key))
        self._persisted += len(data)
        self._buffer.clear()
        self._tail_saved = 0

    def _save_tail(self) -> None:
        """Persist the buffer as `tail-<offset>` and remove superseded tails."""
        prefix = self._store.upload_key(self.upload_id, "")
        current = f"{prefix}tail-{self._persisted:015d}"
        if self._buffer or self._tail_saved:
            self._store.put_bytes(current, bytes(self._buffer))
        self._tail_saved = len(self._buffer)
        listed = [o["Key"] for o in self._store.list_objects(prefix)]
        stale = [k for k in listed if k.startswith(f"{prefix}tail-") and k != current]
        self._store.delete_keys(stale)
        self._keys.update(listed)
        self._keys.difference_update(stale)

    def truncate(self, size: int) -> None:
        """Drop bytes past `size`, reading back the part that holds `size` if needed."""
        if size >= self._persisted:
            del self._buffer[size - self._persisted :]
            if len(self._buffer) < self._tail_saved:
                self._tail_saved = -1  # the saved tail holds dropped bytes: rewrite it
        else:
            keep: list[Piece] = []
            drop: list[str] = []
            carried = b""
            for p in self._parts:
                if p.offset + p.size <= size:
                    keep.append(p)
                else:
                    if p.offset < size:
                        carried = self._store.get_bytes(p.key)[: size - p.offset]
                    drop.append(p.key)
            self._parts = keep
            self._persisted = sum(p.size for p in keep)
            self._buffer = bytearray(carried)
            self._tail_saved = -1  # force a rewrite
            self._store.delete_keys(drop)
            self._keys.difference_update(drop)
            self._save_tail()
        self._store.hash_truncate(self.upload_id, size)

    def prepare(self, expected: Digest) -> BlobInfo:
        """Verify the digest; nothing is visible yet. An upload with part objects has its
        buffer saved as its tail first: the commit copies objects. One held whole in memory
        (an upload under one part: image configs, small layers) is written from memory by
        `publish`: saving it first, then reading it back, sent its bytes through the store
        three times instead of once. Should the request fail after this, `close` still saves
        the buffer, as for any request."""
        if self._parts and len(self._buffer) != self._tail_saved:
            self._save_tail()
        size = self.size()
        actual = self._store.upload_digest(self.upload_id, self, algorithm_of(expected))
        if actual != expected:
            raise DigestMismatch(expected, actual)
        self._prepared = (expected, size)
        return BlobInfo(expected, size)

    def publish(self) -> None:
        """Write the blob at its content address (conditionally), then drop the upload."""
        if self._prepared is None:
            raise RuntimeError("publish() before prepare()")
        digest, _ = self._prepared
        target = self._store.blob_key(digest)
        if self._parts:
            self._store.assemble(target, self._pieces())
        else:
            self._store.assemble(target, [], bytes(self._buffer))
        self._finished = True
        self._store.remove_upload(self.upload_id, self._keys)

    def _pieces(self) -> list[Piece]:
        out = list(self._parts)
        if self._buffer:
            key = self._store.upload_key(self.upload_id, f"tail-{self._persisted:015d}")
            out.append(Piece(self._persisted, len(self._buffer), key))
        return out

    def commit(self, expected: Digest) -> BlobInfo:
        """`prepare` then `publish`."""
        info = self.prepare(expected)
        self.publish()
        return info

    def cancel(self) -> None:
        """Remove every object of the upload."""
        self._finished = True
        self._store.remove_upload(self.upload_id)

    def close(self) -> None:
        """Persist bytes still in memory so that any process can continue the upload."""
        if not self._finished and len(self._buffer) != self._tail_saved:
            self._save_tail()
