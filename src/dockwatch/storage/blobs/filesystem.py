"""The default blob store: files under the data folder (layout in `blobstore.py`)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import threading
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from dockwatch.model.digest import ALGORITHMS, Digest, algorithm_of
from dockwatch.storage.blobs.blobstore import (
    BlobInfo,
    BlobNotFound,
    DigestMismatch,
    StorageFull,
    UploadNotFound,
)

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _HashState:
    """A running sha256 of an upload, valid while `offset` equals the file size."""

    __slots__ = ("hasher", "offset")

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0


class FilesystemBlobWriter:
    """Appends to `uploads/<id>`; commit verifies and renames into `blobs/`."""

    def __init__(self, store: FilesystemBlobStore, upload_id: str, path: Path) -> None:
        self.upload_id = upload_id
        self._store = store
        self._path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        self._prepared: Digest | None = None

    def size(self) -> int:
        """Bytes received so far."""
        return self._size

    def write(self, data: bytes) -> None:
        """Append, hashing on the way; on a full disk undo the partial append and raise."""
        start = self._size
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as exc:
            self.truncate(start)
            if exc.errno in _NO_SPACE:
                raise StorageFull(f"no space left while writing upload {self.upload_id}") from exc
            raise
        self._size = start + len(data)
        self._store._hash_advance(self.upload_id, start, data)

    def truncate(self, size: int) -> None:
        """Drop bytes past `size`; the running hash is rebuilt lazily."""
        os.ftruncate(self._fd, size)
        self._size = size
        self._store._hash_forget(self.upload_id)

    def prepare(self, expected: Digest) -> BlobInfo:
        """fsync and verify the digest; the blob is not visible yet."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise StorageFull("no space left while syncing upload") from exc
            raise
        actual = self._store._upload_digest(self.upload_id, self._path, self._size, expected)
        if actual != expected:
            raise DigestMismatch(expected, actual)
        self._prepared = expected
        return BlobInfo(expected, self._size)

    def publish(self) -> None:
        """Rename the verified upload into place (atomic) and fsync the folder."""
        if self._prepared is None:
            raise RuntimeError("publish() before prepare()")
        target = self._store.local_path(self._prepared)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.close()
        os.replace(self._path, target)
        _fsync_dir(target.parent)
        self._store._hash_forget(self.upload_id)

    def commit(self, expected: Digest) -> BlobInfo:
        """`prepare` then `publish`."""
        info = self.prepare(expected)
        self.publish()
        return info

    def cancel(self) -> None:
        """Remove the upload file."""
        self.close()
        self._path.unlink(missing_ok=True)
        self._store._hash_forget(self.upload_id)

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class FilesystemBlobStore:
    """Blobs as files; see the layout in `blobstore.py`."""

    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        for d in (self._blobs, self._uploads):
            d.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, _HashState] = {}
        self._lock = threading.Lock()

    def ping(self) -> None:
        """Raise unless the blob and upload folders exist and can be written."""
        for d in (self._blobs, self._uploads):
            if not os.access(d, os.W_OK | os.X_OK):
                raise OSError(f"{d} is missing or not writable")

    def local_path(self, digest: Digest) -> Path:
        """`blobs/<algorithm>/<first two hex>/<hex>`."""
        algorithm, _, encoded = digest.partition(":")
        return self._blobs / algorithm / encoded[:2] / encoded

    def stat(self, digest: Digest) -> BlobInfo | None:
        """Size of the blob file, or None."""
        try:
            return BlobInfo(digest, self.local_path(digest).stat().st_size)
        except FileNotFoundError:
            return None

    def missing(self, digests: Collection[Digest]) -> set[Digest]:
        """The digests without a blob file."""
        return {d for d in digests if self.stat(d) is None}

    def open(self, digest: Digest, offset: int = 0) -> BinaryIO:
        """Open the blob file positioned at `offset`."""
        try:
            f = self.local_path(digest).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(digest) from exc
        if offset:
            f.seek(offset)
        return f

    def _upload_path(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id):
            raise UploadNotFound(upload_id)
        return self._uploads / upload_id

    def writer(self, upload_id: str, create: bool = False) -> FilesystemBlobWriter:
        """Open (or with `create`, start) an upload."""
        path = self._upload_path(upload_id)
        if create:
            try:
                path.touch(exist_ok=False)
            except OSError as exc:
                if exc.errno in _NO_SPACE:
                    raise StorageFull("no space left to start an upload") from exc
                raise
        elif not path.exists():
            raise UploadNotFound(upload_id)
        return FilesystemBlobWriter(self, upload_id, path)

    def upload_ids(self) -> list[tuple[str, float]]:
        """Uploads in progress with their mtimes."""
        out = []
        for p in self._uploads.iterdir():
            try:
                out.append((p.name, p.stat().st_mtime))
            except FileNotFoundError:
                continue
        return out

    def delete(self, digest: Digest) -> None:
        """Remove a blob file."""
        self.local_path(digest).unlink(missing_ok=True)

    def digests(self) -> list[Digest]:
        """Every blob on disk."""
        out: list[Digest] = []
        for algorithm in ALGORITHMS:
            base = self._blobs / algorithm
            if base.is_dir():
                out.extend(Digest(f"{algorithm}:{p.name}") for p in base.glob("*/*"))
        return out

    # --- running hashes: an upload spread over many requests is hashed once, as it arrives ---

    def _hash_advance(self, upload_id: str, start: int, data: bytes) -> None:
        with self._lock:
            state = self._hashes.get(upload_id)
            if state is None and start == 0:
                state = self._hashes[upload_id] = _HashState()
            if state is None or state.offset != start:
                self._hashes.pop(upload_id, None)
                return
        state.hasher.update(data)
        state.offset += len(data)

    def _hash_forget(self, upload_id: str) -> None:
        with self._lock:
            self._hashes.pop(upload_id, None)

    def _upload_digest(self, upload_id: str, path: Path, size: int, expected: Digest) -> Digest:
        algorithm = algorithm_of(expected)
        with self._lock:
            state = self._hashes.get(upload_id)
        if algorithm == "sha256" and state is not None and state.offset == size:
            return Digest(f"sha256:{state.hasher.hexdigest()}")
        hasher = hashlib.new(algorithm)
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                hasher.update(chunk)
        return Digest(f"{algorithm}:{hasher.hexdigest()}")
