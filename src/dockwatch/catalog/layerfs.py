"""Read one layer blob in a single streaming pass, never extracting it to disk.

The compressed stream is sniffed (gzip, zstd or plain tar), decompressed by the fastest library
installed (isal, then zlib-ng, then zlib; zstandard for zstd) in a worker thread that also
hashes the tar (the diff_id), while the calling thread walks the tar headers with `tarfile` in
stream mode. Only candidate files (paths some cataloger's globs name, or that its `wants()`
accepts) are kept in memory, each under a per-file budget and all under a per-layer budget.
Whiteouts are recorded, paths normalized, links recorded and never followed.

Hostile input is bounded: entry count, uncompressed size and compression ratio are capped; a
cap reached or a truncated stream ends the pass early with a warning and whatever was read so
far (`LayerRead.complete` is then False).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib
import logging
import queue
import re
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Protocol, cast, runtime_checkable

from dockwatch.catalog.cataloger import (
    Cataloger,
    CatalogError,
    FileEntry,
    GlobCataloger,
    LayerFiles,
)
from dockwatch.model.digest import Digest

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

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class BlobDigestMismatch(CatalogError):
    """The blob read is not the one the manifest names (corruption or tampering)."""

    def __init__(self, expected: Digest, actual: Digest) -> None:
        super().__init__(f"layer blob digest mismatch: expected {expected}, read {actual}")
        self.expected = expected
        self.actual = actual


class LayerUnreadable(CatalogError):
    """The layer could not be read at all (not a tar, not a known compression)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"layer unreadable: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Budgets:
    """Limits that keep a hostile layer bounded in memory and time."""

    file_bytes: int = 128 << 20
    """Largest single candidate file kept in memory."""
    layer_bytes: int = 384 << 20
    """Total candidate bytes kept for one layer."""
    entries: int = 500_000
    """Tar entries walked before giving up on the layer."""
    uncompressed_bytes: int = 32 << 30
    """Uncompressed bytes decoded before giving up."""
    ratio: int = 200
    """Past `ratio_after` uncompressed bytes, a higher ratio than this is treated as a bomb."""
    ratio_after: int = 1 << 30


@runtime_checkable
class ReducingCataloger(Protocol):
    """Optional ability: shrink a file `wants()` selected right when it is read (say, keep only
    the Go build-info blob of a 90 MB binary), so a layer's big files never sit in memory
    together. Return None to drop the file."""

    def reduce(self, path: str, data: bytes) -> bytes | None:
        """The part of `data` the cataloger will need, or None."""
        ...


@dataclass(frozen=True, slots=True)
class _Glob:
    pattern: str
    regex: re.Pattern[str]


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    """Same semantics as `cataloger.match_glob`: fnmatch, and `**/` may also match nothing."""
    alternatives = [fnmatch.translate(pattern)]
    if "**/" in pattern:
        alternatives.append(fnmatch.translate(pattern.replace("**/", "")))
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


_WILD = re.compile(r"[*?\[]")


class Selector:
    """Decides per tar entry, cheaply, whether its content must be kept.

    Matching 50k paths against 60 globs one by one would cost more than decompressing the
    layer, so globs are indexed by their last component: an exact basename (dict lookup), a
    `*SUFFIX` basename (one `str.endswith` over a tuple), or a literal directory prefix (one
    `str.startswith`); only a hit is confirmed against the full glob.
    """

    def __init__(self, catalogers: Iterable[Cataloger], extra_globs: Iterable[str] = ()) -> None:
        self.catalogers = tuple(catalogers)
        patterns = sorted({*extra_globs, *(g for c in self.catalogers for g in c.globs)})
        self._by_name: dict[str, list[re.Pattern[str]]] = {}
        suffixes: list[str] = []
        prefixes: list[str] = []
        wild: list[str] = []
        self._confirm: list[re.Pattern[str]] = []
        for pattern in patterns:
            regex = _compile(pattern)
            base = pattern.rsplit("/", 1)[-1]
            if not _WILD.search(base):
                self._by_name.setdefault(base, []).append(regex)
                continue
            self._confirm.append(regex)
            if base.startswith("*") and not _WILD.search(base[1:]) and base[1:]:
                suffixes.append(base[1:])
                continue
            match = _WILD.search(pattern)
            prefix = pattern[: match.start()] if match else pattern
            if len(prefix) > 1:
                prefixes.append(prefix)
            else:
                wild.append(pattern)
        self._suffixes = tuple(suffixes)
        self._prefixes = tuple(prefixes)
        self._wild = bool(wild)
        self._wanters = tuple(
            c for c in self.catalogers if getattr(type(c), "wants", None) is not GlobCataloger.wants
        )
        self._reducers: dict[int, ReducingCataloger] = {
            id(c): c for c in self._wanters if isinstance(c, ReducingCataloger)
        }

    def by_glob(self, path: str) -> bool:
        """Whether `path` matches any glob."""
        regexes = self._by_name.get(path[path.rfind("/") + 1 :])
        if regexes is not None and any(r.match(path) for r in regexes):
            return True
        if path.endswith(self._suffixes) or path.startswith(self._prefixes) or self._wild:
            return any(r.match(path) for r in self._confirm)
        return False

    def wanted_by(self, path: str, size: int, mode: int) -> Cataloger | None:
        """The first cataloger whose `wants()` accepts a file no glob names."""
        for c in self._wanters:
            if c.wants(path, size, mode):
                return c
        return None

    def reducer(self, cataloger: Cataloger) -> ReducingCataloger | None:
        """`cataloger` as a `ReducingCataloger`, if it is one."""
        return self._reducers.get(id(cataloger))


@dataclass(slots=True)
class LayerRead:
    """Everything one pass over a layer yields."""

    files: LayerFiles
    diff_id: Digest | None
    """sha256 of the uncompressed tar; None when the pass stopped early."""
    uncompressed_size: int
    entries: int
    complete: bool
    """False when a budget, truncation or corruption ended the pass early."""
    compression: str
    """`gzip`, `zstd` or `none`."""


class _Stop(Exception):
    """Raised inside the decode pipeline when a cap is reached; carries the warning."""

    def __init__(self, warning: str) -> None:
        super().__init__(warning)
        self.warning = warning


class _Decoder:
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
        self._budgets = budgets
        head = raw.read(CHUNK)
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
        while chunk:
            self.compressed += len(chunk)
            self._feed_blob(chunk)
            yield chunk
            chunk = self._raw.read(CHUNK)

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
        for chunk in self._compressed_chunks():
            data = chunk
            while data:
                fed = True
                out = d.decompress(data, CHUNK)
                if out:
                    yield out
                if d.eof:
                    # Concatenated gzip members are one stream (gzip(1) semantics).
                    data = d.unused_data
                    d = zlib_impl.decompressobj(wbits=31)
                    fed = False
                    if data and not data.startswith(GZIP_MAGIC):
                        return  # trailing garbage after the last member: ignored, as gzip does
                else:
                    data = d.unconsumed_tail
        if fed:
            tail = d.flush()
            if tail:
                yield tail
            if not d.eof:
                raise _Stop("truncated gzip stream: layer ends before the end-of-stream marker")

    def _unzstd(self) -> Iterator[bytes]:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            _Chunks(self._compressed_chunks()),  # type: ignore[arg-type]  # any object with read()
            read_across_frames=True,
        )
        while True:
            try:
                out = reader.read(CHUNK)
            except zstandard.ZstdError as exc:
                raise _Stop(f"corrupt zstd stream: {exc}") from exc
            if not out:
                return
            yield out

    def _checked(self) -> Iterator[bytes]:
        """Decoded blocks, counted against the budgets; errors end the stream with `error` set."""
        b = self._budgets
        try:
            for out in self._decoded():
                self.total += len(out)
                if self.total > b.uncompressed_bytes:
                    raise _Stop(f"layer exceeds {b.uncompressed_bytes} uncompressed bytes")
                if self.total > b.ratio_after and self.total > b.ratio * max(self.compressed, 1):
                    raise _Stop(
                        f"compression ratio above {b.ratio}:1 after {self.total} bytes (decompression bomb)"
                    )
                yield out
        except _Stop as exc:
            self.error = exc.warning
        except (zlib.error, OSError, EOFError, ValueError) as exc:
            self.error = f"corrupt {self.compression} stream: {exc}"

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
            self.error = f"layer decoder failed: {type(exc).__name__}: {exc}"
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


class _Chunks:
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


def normalize(name: str) -> str | None:
    """The absolute path a tar entry name denotes, or None if it escapes the root.

    Leading `/` and `./` are dropped (runtimes extract absolute names under the root); `.` and
    empty components vanish; a `..` that would climb above the root rejects the entry, as
    containerd and Docker refuse to unpack it.
    """
    if ".." not in name and "//" not in name and "./" not in name and not name.endswith("/."):
        return "/" + name.strip("/") if name.strip("/") else "/"
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def read_layer(
    raw: IO[bytes],
    selector: Selector,
    budgets: Budgets | None = None,
    on_entry: Callable[[int], None] | None = None,
    threaded: bool = True,
    diff_id: bool = True,
    expected: Digest | None = None,
) -> LayerRead:
    """Walk one layer blob once; see the module docstring.

    `diff_id=False` skips hashing the tar, which bounds the pass on large incompressible layers
    (sha256 runs at about 1.8 GB/s here, slower than inflating stored blocks). With `expected`
    (a sha256 digest), the blob is hashed as read and `BlobDigestMismatch` raised at the end if
    a complete pass read other bytes than the manifest names.
    """
    b = budgets or Budgets()
    files = LayerFiles()
    decoder = _Decoder(raw, b, threaded, diff_id, expected is not None)
    kept = 0
    entries = 0
    complete = True
    end_offset = 0
    try:
        try:
            # "r:" over a forward-only file: headers are read in place and skipped data is
            # dropped block by block, cheaper than the copying of stream mode ("r|").
            tf = tarfile.open(fileobj=decoder, mode="r:")  # type: ignore[call-overload]
        except tarfile.ReadError as exc:
            if decoder.total == 0 and decoder.error is None:
                # An empty blob is an empty layer (some writers produce it).
                _verify(expected, decoder.blob_digest())
                return LayerRead(files, None, 0, 0, True, decoder.compression)
            raise LayerUnreadable(decoder.error or f"not a tar archive: {exc}") from exc
        while True:
            try:
                member = tf.next()
            except tarfile.TarError as exc:
                files.warnings.append(f"corrupt tar header after {entries} entries: {exc}")
                complete = False
                break
            if member is None:
                end_offset = tf.offset
                break
            tf.members.clear()  # stream mode keeps every TarInfo otherwise: O(entries) memory
            entries += 1
            if entries > b.entries:
                files.warnings.append(f"layer has more than {b.entries} entries; stopped reading")
                complete = False
                break
            if on_entry is not None and entries % 4096 == 0:
                on_entry(entries)
            try:
                kept += _entry(tf, member, selector, b, files, kept)
            except (tarfile.TarError, EOFError) as exc:
                files.warnings.append(
                    f"{member.name}: data truncated or corrupt ({exc}); stopped reading"
                )
                complete = False
                break
        if complete:
            decoder.drain()
            if decoder.error is None and decoder.total - end_offset < 1024:
                files.warnings.append(
                    "tar stream ends without an end-of-archive marker (truncated)"
                )
                complete = False
        if complete and decoder.error is None:
            _verify(expected, decoder.blob_digest())
    finally:
        decoder.close()
    if decoder.error is not None:
        files.warnings.append(decoder.error)
        complete = False
    digest = Digest(f"sha256:{decoder.digest()}") if complete and diff_id else None
    return LayerRead(files, digest, decoder.total, entries, complete, decoder.compression)


def _verify(expected: Digest | None, blob_hex: str | None) -> None:
    if expected is not None and blob_hex is not None and f"sha256:{blob_hex}" != expected:
        raise BlobDigestMismatch(expected, Digest(f"sha256:{blob_hex}"))


def _entry(
    tf: tarfile.TarFile,
    member: tarfile.TarInfo,
    selector: Selector,
    b: Budgets,
    files: LayerFiles,
    kept: int,
) -> int:
    """Record one tar entry; returns the bytes newly kept in memory."""
    path = normalize(member.name)
    if path is None:
        files.warnings.append(f"entry {member.name!r} escapes the layer root; ignored")
        return 0
    slash = path.rfind("/")
    base = path[slash + 1 :]
    if base.startswith(".wh."):
        parent = path[:slash] or "/"
        if base == ".wh..wh..opq":
            files.opaque_dirs.add(parent)
        else:
            files.whiteouts.add(f"{parent.rstrip('/')}/{base[4:]}")
        return 0
    if member.isdir():
        return 0
    if member.issym() or member.islnk():
        if not selector.by_glob(path):
            return 0
        if member.islnk():
            target = normalize(member.linkname)
            source = files.files.get(target) if target else None
            if source is not None and source.data is not None:
                files.files[path] = FileEntry(path, source.size, member.mode, source.data, None)
            else:
                files.warnings.append(f"hard link {path} -> {member.linkname!r}: target not read")
                files.files[path] = FileEntry(path, member.size, member.mode, None, target)
        else:
            files.files[path] = FileEntry(path, 0, member.mode, None, member.linkname)
        return 0
    if not member.isreg():
        return 0
    wanted_by = None
    if not selector.by_glob(path):
        wanted_by = selector.wanted_by(path, member.size, member.mode)
        if wanted_by is None:
            return 0
    if member.size > b.file_bytes:
        files.warnings.append(f"{path}: {member.size} bytes exceeds the per-file budget; not read")
        files.files[path] = FileEntry(path, member.size, member.mode)
        return 0
    if kept + member.size > b.layer_bytes:
        files.warnings.append(
            f"{path}: per-layer budget of {b.layer_bytes} bytes reached; not read"
        )
        files.files[path] = FileEntry(path, member.size, member.mode)
        return 0
    reducer = selector.reducer(wanted_by) if wanted_by is not None else None
    data: bytes
    if member.issparse():
        stream = tf.extractfile(member)
        data = stream.read() if stream is not None else b""
    else:
        # Straight from the decoder: tarfile's extractfile() reads in 8 KiB steps.
        decoder = cast(_Decoder, tf.fileobj)
        decoder.seek(member.offset_data)
        if reducer is not None:
            # Only the reducer sees the whole file; a bytearray avoids a second copy of it.
            data = cast(bytes, decoder.read_into(member.size))
        else:
            data = decoder.read(member.size)
    if len(data) < member.size:
        files.warnings.append(f"{path}: truncated ({len(data)} of {member.size} bytes)")
    if reducer is not None:
        reduced = reducer.reduce(path, data)
        del data
        if reduced is None:
            return 0
        data = bytes(reduced)
    files.files[path] = FileEntry(path, member.size, member.mode, data)
    return len(data)
