"""The layer walk: one streaming pass, candidates only, whiteouts, hostile names, budgets."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
from collections.abc import Iterable

import pytest

from dockwatch.catalog.cataloger import (
    CatalogResult,
    GlobCataloger,
    LayerFiles,
    ParseEnv,
    match_glob,
)
from dockwatch.catalog.layers import Budgets, LayerUnreadable, Selector, normalize, read_layer
from tests.builders.layers import make_layer, tar_bytes

GLOBS = (
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/status.d/*",
    "/var/lib/dpkg/info/*.list",
    "**/*.jar",
    "**/node_modules/**/package.json",
    "**/*.dist-info/METADATA",
    "/etc/os-release",
    "/usr/lib/python3*/site-packages/*.egg-info",
    "**/*.[jw]ar",
)


def selector(globs: Iterable[str] = GLOBS) -> Selector:
    c = GlobCataloger("test", 1)
    for g in globs:
        c.parse(g, lambda path, data, env: [])
    return Selector([c])


def read(
    blob: bytes, globs: Iterable[str] = GLOBS, budgets: Budgets | None = None
) -> tuple[LayerFiles, object]:
    result = read_layer(io.BytesIO(blob), selector(globs), budgets)
    return result.files, result


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_candidates_and_diff_id(compression: str) -> None:
    layer = make_layer(
        {
            "var/lib/dpkg/status": "Package: a\n",
            "usr/share/java/x.jar": b"PK\x03\x04jar",
            "app/node_modules/@s/p/package.json": "{}",
            "usr/bin/ls": b"\x7fELF" + b"\0" * 5000,
            "etc/passwd": "root:x:0:0",
        },
        compression=compression,
    )
    files, result = read(layer.blob)
    assert set(files.files) == {
        "/var/lib/dpkg/status",
        "/usr/share/java/x.jar",
        "/app/node_modules/@s/p/package.json",
    }
    assert files.files["/usr/share/java/x.jar"].data == b"PK\x03\x04jar"
    assert result.diff_id == "sha256:" + hashlib.sha256(layer.tar).hexdigest()  # type: ignore[attr-defined]
    assert result.complete and result.compression == compression  # type: ignore[attr-defined]


def test_selector_agrees_with_match_glob() -> None:
    paths = [
        "/var/lib/dpkg/status",
        "/var/lib/dpkg/status.d/libc6",
        "/var/lib/dpkg/info/libc6:amd64.list",
        "/a.jar",
        "/x/y/z.war",
        "/x/y/z.ear",
        "/node_modules/p/package.json",
        "/app/node_modules/a/node_modules/b/package.json",
        "/package.json",
        "/usr/lib/python3.11/site-packages/foo.egg-info",
        "/usr/lib/python3/dist-packages/a-1.dist-info/METADATA",
        "/etc/os-release",
        "/etc/os-release.bak",
        "/var/lib/dpkg/statusx",
        "/usr/bin/jar",
        "/x.jar/y",
    ]
    sel = selector()
    for path in paths:
        assert sel.by_glob(path) == any(match_glob(g, path) for g in GLOBS), path


def test_whiteouts_and_opaque_dirs() -> None:
    layer = make_layer(
        {"etc/keep": "k"},
        whiteouts=["usr/lib/python3/dist-packages/yaml", "etc/gone"],
        opaque=["opt/app"],
    )
    files, _ = read(layer.blob)
    assert files.whiteouts == {"/usr/lib/python3/dist-packages/yaml", "/etc/gone"}
    assert files.opaque_dirs == {"/opt/app"}
    assert not files.files


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./etc/a", "/etc/a"),
        ("/etc/a", "/etc/a"),
        ("etc//a/./b", "/etc/a/b"),
        ("a/../b", "/b"),
        ("../etc/a", None),
        ("a/../../b", None),
        ("/", "/"),
    ],
)
def test_normalize(name: str, expected: str | None) -> None:
    assert normalize(name) == expected


def test_escaping_entries_are_ignored_with_a_warning() -> None:
    tar = tar_bytes(
        {
            "../var/lib/dpkg/status": "evil",
            "/var/lib/dpkg/status": "ok",
            "x/../../etc/os-release": "evil",
        }
    )
    files, _ = read(gzip.compress(tar))
    assert files.files["/var/lib/dpkg/status"].data == b"ok"
    assert "/etc/os-release" not in files.files
    assert sum("escapes the layer root" in w for w in files.warnings) == 2


def test_links_are_recorded_not_followed() -> None:
    tar = tar_bytes(
        {"usr/lib/os-release": "ID=debian\n", "usr/share/java/real.jar": "J"},
        symlinks={
            "etc/os-release": "../usr/lib/os-release",
            "usr/share/java/out.jar": "/../../../etc/shadow",
            "usr/share/java/loop.jar": "loop.jar",
        },
        hardlinks={
            "usr/share/java/hard.jar": "usr/share/java/real.jar",
            "usr/share/java/missing.jar": "nowhere/x.jar",
        },
    )
    files, _ = read(gzip.compress(tar), GLOBS + ("/usr/lib/os-release",))
    assert files.files["/etc/os-release"].link_target == "../usr/lib/os-release"
    assert files.files["/etc/os-release"].data is None
    assert files.files["/usr/share/java/out.jar"].data is None
    assert files.files["/usr/share/java/loop.jar"].link_target == "loop.jar"
    assert files.files["/usr/share/java/hard.jar"].data == b"J"
    assert files.files["/usr/share/java/missing.jar"].data is None
    assert any("missing.jar" in w for w in files.warnings)


def test_budgets() -> None:
    layer = make_layer({"a/x.jar": b"1" * 1000, "b/y.jar": b"2" * 600, "c/z.jar": b"3" * 600})
    files, _ = read(layer.blob, budgets=Budgets(file_bytes=800, layer_bytes=1000))
    assert files.files["/a/x.jar"].data is None
    assert files.files["/b/y.jar"].data == b"2" * 600
    assert files.files["/c/z.jar"].data is None
    assert any("per-file budget" in w for w in files.warnings)
    assert any("per-layer budget" in w for w in files.warnings)


def test_entry_budget_stops_with_partial_result() -> None:
    layer = make_layer({f"d/{i}.jar": "x" for i in range(50)})
    files, result = read(layer.blob, budgets=Budgets(entries=10))
    assert len(files.files) == 10
    assert not result.complete and result.diff_id is None  # type: ignore[attr-defined]
    assert any("more than 10 entries" in w for w in files.warnings)


def test_truncated_gzip() -> None:
    layer = make_layer({f"d/{i}.jar": str(i) * 2000 for i in range(20)})
    files, result = read(layer.blob[: len(layer.blob) // 2])
    assert not result.complete  # type: ignore[attr-defined]
    assert any("truncated" in w for w in files.warnings)
    assert 0 < len(files.files) < 20


def test_truncated_plain_tar() -> None:
    layer = make_layer({f"d/{i}.jar": str(i) * 2000 for i in range(20)}, compression="none")
    files, result = read(layer.blob[:20000])
    assert not result.complete  # type: ignore[attr-defined]
    assert any("truncated" in w for w in files.warnings)


def test_concatenated_gzip_members() -> None:
    tar = tar_bytes({"a.jar": "A", "b.jar": "B"})
    blob = gzip.compress(tar[:1024]) + gzip.compress(tar[1024:])
    files, result = read(blob)
    assert set(files.files) == {"/a.jar", "/b.jar"}
    assert result.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()  # type: ignore[attr-defined]


def test_not_a_tar() -> None:
    with pytest.raises(LayerUnreadable):
        read(gzip.compress(b"hello world, not a tar archive at all" * 100))


def test_empty_blob_is_an_empty_layer() -> None:
    files, result = read(b"")
    assert not files.files and result.complete  # type: ignore[attr-defined]


class Wanting:
    """A cataloger that sniffs executables and keeps only their first 4 bytes."""

    name = "wanting"
    version = 1
    globs: tuple[str, ...] = ()

    def wants(self, path: str, size: int, mode: int) -> bool:
        return bool(mode & 0o111)

    def reduce(self, path: str, data: bytes) -> bytes | None:
        return data[:4]

    def catalog(self, files: LayerFiles, env: ParseEnv) -> CatalogResult:
        return CatalogResult()


def test_wants_and_reduce() -> None:
    layer = make_layer(
        {"usr/bin/tool": b"\x7fELF" + b"x" * 10_000, "etc/conf": "c"}, modes={"usr/bin/tool": 0o755}
    )
    result = read_layer(io.BytesIO(layer.blob), Selector([Wanting()]))
    assert result.files.files["/usr/bin/tool"].data == b"\x7fELF"
    assert "/etc/conf" not in result.files.files


def test_diff_id_can_be_skipped() -> None:
    content = random.Random(1).randbytes(3_000_000)  # incompressible: over 1 MiB, so threaded
    layer = make_layer({"a.jar": content})
    for threaded in (True, False):
        result = read_layer(io.BytesIO(layer.blob), selector(), diff_id=False, threaded=threaded)
        assert result.complete and result.diff_id is None
        assert result.files.files["/a.jar"].data == content
        hashed = read_layer(io.BytesIO(layer.blob), selector(), threaded=threaded)
        assert hashed.diff_id == "sha256:" + hashlib.sha256(layer.tar).hexdigest()


@pytest.mark.parametrize("size", [1000, 3_000_000])
def test_blob_digest_verification(size: int) -> None:
    from dockwatch.catalog.layers import BlobDigestMismatch
    from dockwatch.model.digest import Digest

    layer = make_layer({"a.jar": random.Random(2).randbytes(size)})
    padded = layer.blob + b"\0" * 4096  # trailing padding after the gzip member is part of the blob
    good = Digest("sha256:" + hashlib.sha256(padded).hexdigest())
    result = read_layer(io.BytesIO(padded), selector(), expected=good)
    assert result.complete and result.diff_id == "sha256:" + hashlib.sha256(layer.tar).hexdigest()
    with pytest.raises(BlobDigestMismatch) as err:
        read_layer(io.BytesIO(padded), selector(), expected=Digest("sha256:" + "0" * 64))
    assert err.value.actual == good


def test_gzip_header_with_an_unknown_method_is_unreadable() -> None:
    # found by tests/fuzz: the fastest inflater raises its own error type, not zlib.error
    with pytest.raises(LayerUnreadable):
        read(b"\x1f\x8b\x00" + b"\x00" * 7)


class _Chunked:
    """A blob arriving as a registry body does: `read1` hands on pieces of `size` bytes, and
    the connection may drop after `cut` bytes."""

    def __init__(self, blob: bytes, size: int, cut: int | None = None) -> None:
        self.blob, self.size, self.cut, self.at = blob, size, cut, 0

    def read1(self, n: int = -1) -> bytes:
        if self.cut is not None and self.at >= self.cut:
            raise ConnectionResetError("connection reset by peer")
        take = min(self.size, len(self.blob) - self.at, n if n >= 0 else self.size)
        out = self.blob[self.at : self.at + take]
        self.at += take
        return out

    def read(self, n: int = -1) -> bytes:
        parts: list[bytes] = []
        while n < 0 or sum(map(len, parts)) < n:
            part = self.read1(-1 if n < 0 else n - sum(map(len, parts)))
            if not part:
                break
            parts.append(part)
        return b"".join(parts)


@pytest.mark.parametrize("size", [1000, 3_000_000])  # decoded inline, and in threads
def test_a_blob_in_small_pieces_reads_and_verifies_as_a_whole_one(size: int) -> None:
    from dockwatch.catalog.layers import BlobDigestMismatch
    from dockwatch.model.digest import Digest

    content = random.Random(3).randbytes(size)
    layer = make_layer({"a.jar": content, "etc/os-release": b"ID=debian\n"})
    good = Digest("sha256:" + hashlib.sha256(layer.blob).hexdigest())
    whole = read_layer(io.BytesIO(layer.blob), selector(), expected=good)
    pieces = read_layer(_Chunked(layer.blob, 7001), selector(), expected=good)  # type: ignore[arg-type]
    assert pieces.complete and whole.complete
    assert pieces.diff_id == whole.diff_id == "sha256:" + hashlib.sha256(layer.tar).hexdigest()
    assert pieces.files.files["/a.jar"].data == content
    with pytest.raises(BlobDigestMismatch) as err:
        read_layer(_Chunked(layer.blob, 7001), selector(), expected=Digest("sha256:" + "0" * 64))  # type: ignore[arg-type]
    assert err.value.actual == good


@pytest.mark.parametrize("size", [1000, 3_000_000])
def test_a_body_cut_mid_blob_is_a_truncated_read_not_a_result(size: int) -> None:
    from dockwatch.catalog.layers import IncompleteReason
    from dockwatch.model.digest import Digest

    layer = make_layer({"a.jar": random.Random(4).randbytes(size)})
    good = Digest("sha256:" + hashlib.sha256(layer.blob).hexdigest())
    for cut in (len(layer.blob) // 2, len(layer.blob) - 10):
        result = read_layer(_Chunked(layer.blob, 7001, cut), selector(), expected=good)  # type: ignore[arg-type]
        assert result.incomplete is not None
        assert result.incomplete.reason == IncompleteReason.TRUNCATED
        assert "connection reset" in result.incomplete.detail
        assert result.diff_id is None


def _member(data: bytes, size_multiple: int) -> bytes:
    """A gzip member of `data` whose length is a multiple of `size_multiple` (its FNAME field
    pads it): where its end falls is then known."""
    import struct
    import zlib

    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data))
    bare = 10 + 1 + len(body) + len(trailer)  # header, FNAME's terminator
    name = b"n" * (-bare % size_multiple or size_multiple)
    return b"\x1f\x8b\x08\x08" + b"\0" * 4 + b"\x00\xff" + name + b"\0" + body + trailer


def test_gzip_members_ending_on_an_input_step() -> None:
    from dockwatch.catalog.layers.decode import INFLATE_INPUT

    tar = tar_bytes({"etc/os-release": b"ID=debian\n", "pad": random.Random(5).randbytes(300_000)})
    first = _member(tar[:4096], INFLATE_INPUT)
    assert len(first) % INFLATE_INPUT == 0
    # a member ending on an input step, the next beginning on the following one
    files, result = read(first + gzip.compress(tar[4096:]))
    assert result.complete and files.files["/etc/os-release"].data == b"ID=debian\n"  # type: ignore[attr-defined]
    # garbage after the last member, from an input step on, is ignored as gzip(1) ignores it
    whole = _member(tar, INFLATE_INPUT)
    files, result = read(whole + b"not a gzip member" * 100)
    assert result.complete and files.files["/etc/os-release"].data == b"ID=debian\n"  # type: ignore[attr-defined]
    assert gzip.decompress(whole) == tar  # the oracle reads the member as one
