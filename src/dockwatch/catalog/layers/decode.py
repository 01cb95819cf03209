"""Decompress one layer blob as a forward-only file, in worker threads for large blobs.

The compressed stream is sniffed (gzip, zstd or plain tar) and decompressed by the fastest
library installed (isal, then zlib-ng, then zlib; zstandard for zstd). One worker thread
decompresses, another hashes the tar (the diff_id) and, when asked, a third hashes the blob
as read, while the calling thread parses tar headers. Queues hold a few blocks, so memory stays
bounded whatever the compression ratio; the total uncompressed size and the time spent are
bounded by `Budgets`, and a bound reached ends the stream with `cut` set.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import IO

from dockwatch.catalog.layers.limits import Budgets, CutShort, Incomplete, IncompleteReason

logger = logging.getLogger(__name__)


def _fastest_zlib() -> ModuleType:
    """The fastest zlib-compatible decompressor installed (see ../shared/images/README.md
    figures: isal, then zlib-ng, then the standard library)."""
    for name in ("isal.isal_zlib", "zlib_ng.zlib_ng"):
        try:
            return importlib.import_module(name)
        except ImportError:  # pragma: no cover - depends on what installs
            continue
    return zlib


zlib_impl: ModuleType = _fastest_zlib()
ZLIB_ERROR: type[Exception] = getattr(zlib_impl, "error", zlib.error)
"""The decompressor's own error (isal raises IsalError, not a `zlib.error`)."""

CHUNK = 1 << 20
INFLATE_INPUT = 256 << 10
"""Compressed bytes given to the inflater at a time, each call still bounded to CHUNK out:
debian-minbase's 48 MB blob inflates in 0.171 s of CPU in 256 KiB steps against 0.211 s in
1 MiB steps (isal; fewer copies of the unconsumed input, output that stays in cache)."""
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Decoder:
    """File-like object over the decompressed layer.

    For large blobs, a worker thread reads and decompresses in 1 MiB blocks and a second one
    sha256-hashes them (both libraries release the GIL), so that work overlaps with tar parsing
    in the calling thread. Queues hold a few blocks: memory stays bounded whatever the
    compression ratio. Small blobs are decoded inline: starting threads would cost more.
    """

    def __init__(
        self,
        raw: IO[bytes],
        budgets: Budgets,
        threaded: bool = True,
        hashing: bool = True,
        verify_blob: bool = False,
    ) -> None:
        self._raw = raw
        # One raw read per block where the stream offers it (files, HTTP bodies): a full
        # `read(CHUNK)` on a socket stream gathers and copies partial reads into one buffer.
        self._read_raw = getattr(raw, "read1", raw.read)
        self._budgets = budgets
        head, self._head_error = _read_head(self._read_raw)
        if head.startswith(GZIP_MAGIC):
            self.compression = "gzip"
        elif head.startswith(ZSTD_MAGIC):
            self.compression = "zstd"
        else:
            self.compression = "none"
        self._head = head
        self.hasher = hashlib.sha256()
        self.blob_hasher = hashlib.sha256() if verify_blob else None
        """sha256 of the blob as read, to check it against the digest the manifest names."""
        self.total = 0
        self.compressed = 0
        self.error: str | None = None
        """A sentence for the warnings when the stream ended early."""
        self.cut: Incomplete | None = None
        """Why the stream ended early (a bound, truncation, corruption); None if it did not."""
        self.deadline = None if budgets.seconds is None else time.monotonic() + budgets.seconds
        self._buf = b""
        self._pos = 0
        self._base = 0
        """Absolute offset of `_buf[0]` in the decoded stream."""
        self._done = False
        self._stop = threading.Event()
        self._threaded = threaded and len(head) == CHUNK
        self._hashing = hashing
        self._inline = self._checked()
        self._queue: queue.Queue[bytes | None] = queue.Queue(4)
        self._hash_queue: queue.Queue[bytes | None] = queue.Queue(8)
        # The blob digest gets its own thread: hashing the blob and the tar one after the other
        # would bound incompressible layers at half of sha256's speed.
        self._blob_queue: queue.Queue[bytes | None] = queue.Queue(8)
        self._blob_thread: threading.Thread | None = None
        if self._threaded and self.blob_hasher is not None:
            self._blob_thread = threading.Thread(
                target=self._blob_hash, name="layerfs-blob", daemon=True
            )
            self._blob_thread.start()
        self._threads: list[threading.Thread] = []
        if self._threaded:
            self._threads = [
                threading.Thread(target=self._work, name="layerfs-decode", daemon=True)
            ]
            if hashing:
                self._threads.append(
                    threading.Thread(target=self._hash, name="layerfs-hash", daemon=True)
                )
            for t in self._threads:
                t.start()

    def _blob_hash(self) -> None:
        assert self.blob_hasher is not None
        while (item := self._blob_queue.get()) is not None:
            self.blob_hasher.update(item)

    def _feed_blob(self, chunk: bytes) -> None:
        if self._blob_thread is not None:
            self._blob_queue.put(chunk)
        elif self.blob_hasher is not None:
            self.blob_hasher.update(chunk)

    def _compressed_chunks(self) -> Iterator[bytes]:
        chunk = self._head
        failed = self._head_error
        while chunk or failed:
            if chunk:
                self.compressed += len(chunk)
                self._feed_blob(chunk)
                yield chunk
            if failed is None:
                try:
                    chunk = self._read_raw(CHUNK)
                    continue
                except Exception as exc:  # a download cut mid-blob: the blob ends early
                    failed = exc
            raise CutShort(
                IncompleteReason.TRUNCATED,
                f"blob read failed after {self.compressed} bytes: {failed}",
            ) from failed

    def _decoded(self) -> Iterator[bytes]:
        if self.compression == "none":
            yield from self._compressed_chunks()
        elif self.compression == "gzip":
            yield from self._gunzip()
        else:
            yield from self._unzstd()

    def _gunzip(self) -> Iterator[bytes]:
        d = zlib_impl.decompressobj(wbits=31)
        fed = False  # whether the current gzip member has received input
        between = False  # a member ended with its input: what follows must be another member
        for chunk in self._compressed_chunks():
            view = memoryview(chunk)
            for start in range(0, len(view), INFLATE_INPUT):
                data: memoryview | bytes = view[start : start + INFLATE_INPUT]
                if between:
                    between = False
                    if not GZIP_MAGIC.startswith(bytes(data[:2])):
                        return  # trailing garbage after the last member: ignored, as gzip does
                while data:
                    fed = True
                    out = d.decompress(data, CHUNK)
                    if out:
                        yield out
                    if d.eof:
                        # Concatenated gzip members are one stream (gzip(1) semantics).
                        rest: bytes = d.unused_data
                        d = zlib_impl.decompressobj(wbits=31)
                        fed = False
                        if not rest:
                            between = True
                        elif not rest.startswith(GZIP_MAGIC):
                            return  # trailing garbage after the last member: ignored
                        data = rest
                    else:
                        data = d.unconsumed_tail
        if fed:
            tail = d.flush()
            if tail:
                yield tail
            if not d.eof:
                raise CutShort(
                    IncompleteReason.TRUNCATED,
                    "truncated gzip stream: layer ends before the end-of-stream marker",
                )

    def _unzstd(self) -> Iterator[bytes]:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            Chunks(self._compressed_chunks()),  # type: ignore[arg-type]  # any object with read()
            read_across_frames=True,
        )
        while True:
            try:
                out = reader.read(CHUNK)
            except zstandard.ZstdError as exc:
                raise CutShort(IncompleteReason.CORRUPT, f"corrupt zstd stream: {exc}") from exc
            if not out:
                return
            yield out

    def _checked(self) -> Iterator[bytes]:
        """Decoded blocks, counted against the bounds; errors end the stream with `cut` set."""
        limit = self._budgets.uncompressed_bytes
        try:
            for out in self._decoded():
                self.total += len(out)
                if self.total > limit:
                    raise CutShort(
                        IncompleteReason.UNCOMPRESSED_SIZE_LIMIT,
                        f"layer exceeds {limit} uncompressed bytes (scan_max_uncompressed_bytes)",
                    )
                self.check_time()
                yield out
        except CutShort as exc:
            self._end(exc.marker)
        except (zlib.error, ZLIB_ERROR, OSError, EOFError, ValueError) as exc:
            self._end(
                Incomplete(IncompleteReason.CORRUPT, f"corrupt {self.compression} stream: {exc}")
            )

    def check_time(self) -> None:
        """Raise `CutShort` once the read has run past its time budget."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise CutShort(
                IncompleteReason.TIME_LIMIT,
                f"layer read exceeded its time budget of {self._budgets.seconds:g} s "
                "(scan_layer_seconds)",
            )

    def _end(self, marker: Incomplete) -> None:
        if self.cut is None:
            self.cut = marker
            self.error = marker.detail

    def _work(self) -> None:
        try:
            for out in self._inline:
                if self._hashing:
                    self._hash_queue.put(out)
                if not self._put(out):
                    return
            self._put(None)
        except Exception as exc:  # a bug here must end the stream, never hang the reader
            logger.exception("layer decoder failed")
            self._end(
                Incomplete(
                    IncompleteReason.CORRUPT,
                    f"layer decoder failed: {type(exc).__name__}: {exc}",
                )
            )
            self._put(None)
        finally:
            if self._hashing:
                self._hash_queue.put(None)

    def _hash(self) -> None:
        while (item := self._hash_queue.get()) is not None:
            self.hasher.update(item)

    def _put(self, item: bytes | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _next(self) -> bytes | None:
        if self._done:
            return None
        if self._threaded:
            while True:
                try:
                    item = self._queue.get(timeout=1.0)
                    break
                except queue.Empty:
                    if not self._threads[0].is_alive() and self._queue.empty():
                        item = None  # the decoder is gone: end of stream, never a hang
                        break
        else:
            item = next(self._inline, None)
            if item is not None and self._hashing:
                self.hasher.update(item)
        if item is None:
            self._done = True
        return item

    def digest(self) -> str:
        """Hex sha256 of everything decoded (waits for the hashing thread)."""
        for t in self._threads:
            t.join()
        return self.hasher.hexdigest()

    def _advance(self) -> bool:
        """Replace the buffer with the next block; False at the end of the stream."""
        chunk = self._next()
        self._base += len(self._buf)
        self._buf, self._pos = (chunk, 0) if chunk is not None else (b"", 0)
        return chunk is not None

    def read(self, n: int = -1) -> bytes:
        """Up to `n` decompressed bytes (all remaining if n < 0)."""
        avail = len(self._buf) - self._pos
        if 0 <= n <= avail:
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
            return out
        parts = [self._buf[self._pos :]] if avail else []
        got = avail
        while (n < 0 or got < n) and self._advance():
            take = len(self._buf) if n < 0 else min(n - got, len(self._buf))
            parts.append(self._buf if take == len(self._buf) else self._buf[:take])
            self._pos = take
            got += take
        return b"".join(parts)

    def read_into(self, n: int) -> bytearray:
        """Exactly up to `n` bytes into one preallocated buffer: a 90 MB binary costs 90 MB,
        not the 180 MB of collecting blocks and joining them."""
        out = bytearray(n)
        view = memoryview(out)
        got = 0
        while got < n:
            if self._pos >= len(self._buf) and not self._advance():
                break
            take = min(n - got, len(self._buf) - self._pos)
            view[got : got + take] = self._buf[self._pos : self._pos + take]
            self._pos += take
            got += take
        view.release()
        if got < n:
            del out[got:]
        return out

    def blob_digest(self) -> str | None:
        """Hex sha256 of the whole blob, once the decoded stream is consumed; the compressed
        bytes after the last gzip member (padding) are read and hashed too, up to the cap."""
        if self.blob_hasher is None:
            return None
        if self._threads:
            self._threads[0].join()  # the decoder thread is done with the raw stream
        left = self._budgets.uncompressed_bytes
        while left > 0 and (chunk := self._raw.read(CHUNK)):
            self._feed_blob(chunk)
            left -= len(chunk)
        if self._blob_thread is not None:
            self._blob_queue.put(None)
            self._blob_thread.join()
        return self.blob_hasher.hexdigest()

    def tell(self) -> int:
        """Bytes consumed so far."""
        return self._base + self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        """Forward seeks skip blocks without copying them; backward only within the block."""
        if whence != 0 or pos < self._base:
            raise OSError("layer streams only seek forward")
        while pos > self._base + len(self._buf):
            if not self._advance():
                return self.tell()
        self._pos = pos - self._base
        return pos

    def drain(self) -> None:
        """Consume (and so hash) the rest of the stream."""
        while self._advance():
            pass

    def close(self) -> None:
        """Stop the workers (the decoder may be blocked on a full queue)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        if self._blob_thread is not None and self._blob_thread.is_alive():
            self._blob_queue.put(None)
            self._blob_thread.join(timeout=5)


def _read_head(read: Callable[[int], bytes]) -> tuple[bytes, Exception | None]:
    """The first CHUNK bytes (fewer only at the end of the stream): enough to sniff the
    compression and to decide whether threads pay; and the error that cut the read short,
    raised with the first bytes' results (`_compressed_chunks`)."""
    parts: list[bytes] = []
    size = 0
    failed: Exception | None = None
    while size < CHUNK:
        try:
            part = read(CHUNK - size)
        except Exception as exc:  # a download cut in its first megabyte
            failed = exc
            break
        if not part:
            break
        parts.append(part)
        size += len(part)
    return (parts[0] if len(parts) == 1 else b"".join(parts)), failed


class Chunks:
    """Minimal file object over an iterator of byte chunks (zstandard reads from it)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._buf) < n) and (chunk := next(self._chunks, None)) is not None:
            self._buf += chunk
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out
