"""The Go binary cataloger against binaries built here by Debian's Go (oracle: `go version -m`)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.catalog.cataloger import FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.golang import CATALOGER
from dockwatch.catalog.golang.cataloger import MIN_SIZE
from dockwatch.catalog.rust import AUDITABLE_CATALOGER
from dockwatch.model.package import Package
from tests.unit.catalog.golang.gobuild import build, go_available, go_version_m

pytestmark = pytest.mark.skipif(not go_available(), reason="Debian's golang-go is not installed")


def catalog(
    entries: dict[str, bytes], mode: int = 0o755, size: int | None = None
) -> tuple[list[Package], list[str]]:
    """Run the cataloger; `size` is the tar header's (the original size of a reduced file)."""
    files = LayerFiles({p: FileEntry(p, size or len(d), mode, d) for p, d in entries.items()})
    result = CATALOGER.catalog(files, ParseEnv(None, files))
    return list(result.packages), [s.reason for s in result.skipped]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("go")


@pytest.fixture(scope="module")
def app(workdir: Path) -> Path:
    return build(workdir, "app")


@pytest.fixture(scope="module")
def stamped(workdir: Path) -> Path:
    return build(workdir, "stamped", "-s -w -X main.version=2.3.4")


def expected_from_oracle(binary: Path) -> set[tuple[str, str]]:
    """What we should report, derived from `go version -m` alone."""
    oracle = go_version_m(binary)
    want = {("stdlib", oracle.go_version.split(" ")[0])}
    for path, version, repl in oracle.deps:
        if repl is None:
            want.add((path, version))
        elif repl[1] in ("", "(devel)"):
            want.add((path, "(devel)"))  # replaced by a directory: no release is compiled in
        else:
            want.add(repl)
    return want


def test_packages_match_go_version_m(app: Path) -> None:
    packages, skipped = catalog({"/usr/bin/app": app.read_bytes()})
    assert skipped == []
    assert {(p.name, p.version) for p in packages} == expected_from_oracle(app)
    assert all(p.type == "go" and p.found_by == "go-binary" for p in packages)
    assert all(p.locations == ("/usr/bin/app",) for p in packages)


def test_main_module_with_devel_version_is_not_reported(app: Path) -> None:
    oracle = go_version_m(app)
    assert oracle.mod == ("example.com/app", "(devel)")
    packages, _ = catalog({"/app": app.read_bytes()})
    assert "example.com/app" not in {p.name for p in packages}


def test_purls_and_replacement_metadata(app: Path) -> None:
    packages, _ = catalog({"/app": app.read_bytes()})
    by_name = {p.name: p for p in packages}
    assert by_name["example.com/dep"].purl == "pkg:golang/example.com/dep@v1.2.3"
    assert by_name["stdlib"].purl.startswith("pkg:golang/stdlib@1.")
    fork = dict(by_name["example.com/fork"].metadata)
    assert fork["replaces"] == "example.com/other@v0.4.0"
    assert fork["h1_digest"].startswith("h1:")
    assert dict(by_name["example.com/local"].metadata)["replaced_by"] == "./local"
    assert by_name["example.com/dep"].arch == "amd64" or by_name["example.com/dep"].arch


def test_stripped_binary_with_ldflags_version_reports_main(stamped: Path) -> None:
    packages, _ = catalog({"/bin/stamped": stamped.read_bytes()})
    main = [p for p in packages if p.name == "example.com/app"]
    assert [(p.version, dict(p.metadata)["version_evidence"]) for p in main] == [
        ("v2.3.4", "ldflags")
    ]
    assert expected_from_oracle(stamped) <= {(p.name, p.version) for p in packages}


def test_without_section_table_the_data_segment_is_searched(app: Path) -> None:
    data = bytearray(app.read_bytes())
    data[40:48] = bytes(8)  # e_shoff
    data[60:64] = bytes(4)  # e_shnum, e_shstrndx
    packages, skipped = catalog({"/app": bytes(data)})
    assert skipped == []
    assert ("example.com/dep", "v1.2.3") in {(p.name, p.version) for p in packages}


def test_reduced_binary_gives_the_same_packages(app: Path, stamped: Path) -> None:
    """`reduce` (applied by the layer reader) keeps a few hundred bytes of a 2 MB binary."""
    for binary in (app, stamped):
        data = binary.read_bytes()
        reduced = CATALOGER.reduce("/app", data)
        assert reduced is not None and len(reduced) < 4096 < len(data)
        assert catalog({"/app": reduced}, size=len(data)) == catalog({"/app": data})


def test_reduce_pointer_format_and_drops() -> None:
    data = pointer_format_elf(True, True)
    reduced = CATALOGER.reduce("/old", data)
    assert reduced is not None
    assert catalog({"/old": reduced}, size=len(data)) == catalog({"/old": data})
    assert CATALOGER.reduce("/usr/bin/ls", Path("/usr/bin/ls").read_bytes()) is None
    assert CATALOGER.reduce("/script", b"#!/bin/sh\n") is None


def test_reduce_keeps_the_reason_of_a_malformed_binary(app: Path) -> None:
    cut = app.read_bytes()[:4096]
    reduced = CATALOGER.reduce("/app", cut)
    assert reduced is not None and len(reduced) < 512
    assert catalog({"/app": reduced}, size=MIN_SIZE) == catalog({"/app": cut}, size=MIN_SIZE)
    assert catalog({"/app": reduced}, size=MIN_SIZE)[1][0].startswith("malformed ELF")


def test_wants_executables_within_budget() -> None:
    assert CATALOGER.wants("/usr/bin/x", MIN_SIZE, 0o755)
    assert not CATALOGER.wants("/usr/bin/x", MIN_SIZE, 0o644)
    assert not CATALOGER.wants("/usr/bin/x", 100, 0o755)
    assert not CATALOGER.wants("/usr/bin/x", 10 << 30, 0o755)
    assert CATALOGER.globs == ()


def test_non_go_elf_yields_nothing() -> None:
    ls = Path("/usr/bin/ls").read_bytes()
    assert catalog({"/usr/bin/ls": ls}) == ([], [])


def test_non_elf_executable_is_ignored() -> None:
    script = b"#!/bin/sh\n" + b"#" * MIN_SIZE
    assert catalog({"/usr/bin/script": script}) == ([], [])


@pytest.mark.parametrize("keep", [64, 4096, 0.5])
def test_truncated_binary_is_skipped_or_partial_never_a_crash(app: Path, keep: float) -> None:
    data = app.read_bytes()
    cut = data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep]
    files = LayerFiles({"/app": FileEntry("/app", len(data), 0o755, cut)})
    result = CATALOGER.catalog(files, ParseEnv(None, files))
    assert result.packages or result.skipped
    assert all("malformed ELF" in s.reason for s in result.skipped)


# --- the pre-1.18 pointer format, which Debian's Go 1.19 cannot produce -------------------------
# Layout from go/src/debug/buildinfo/buildinfo.go (readRawBuildInfo, version flag unset): header
# `\xff Go buildinf:`, byte 14 pointer size, byte 15 flags (bit 0 = big endian), then two
# pointers to Go string headers {data pointer, length} for the version and the module info.
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
MODINFO = (
    "path\texample.org/old\nmod\texample.org/old\tv0.9.0\th1:x=\n"
    "dep\tgolang.org/x/text\tv0.3.0\th1:y=\n"
)


def pointer_format_elf(is64: bool, little: bool) -> bytes:
    """A minimal ELF with one RW PT_LOAD segment holding a pointer-format build info."""
    e = "<" if little else ">"
    ptr = "Q" if is64 else "I"
    psize = 8 if is64 else 4
    base = 0x400000
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    hdr_off = 0x100
    strhdr_off = hdr_off + 32
    blob_off = strhdr_off + 4 * psize
    version = b"go1.16.15"
    mod = INFO_START + MODINFO.encode() + INFO_END
    total = max(MIN_SIZE, blob_off + len(version) + len(mod))
    buf = bytearray(total)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if little else 2, 1]) + bytes(9)
    buf[:16] = ident
    if is64:
        struct.pack_into(e + "HHIQQQIHHHHHH", buf, 16, 2, 62, 1, base, ehsize, 0, 0,
                         ehsize, phentsize, 1, 0, 0, 0)  # fmt: skip
        struct.pack_into(e + "IIQQQQQQ", buf, ehsize, 1, 6, 0, base, base, total, total, 0x1000)
    else:
        struct.pack_into(e + "HHIIIIIHHHHHH", buf, 16, 2, 3, 1, base, ehsize, 0, 0,
                         ehsize, phentsize, 1, 0, 0, 0)  # fmt: skip
        struct.pack_into(e + "IIIIIIII", buf, ehsize, 1, 0, base, base, total, total, 6, 0x1000)
    buf[hdr_off : hdr_off + 14] = b"\xff Go buildinf:"
    buf[hdr_off + 14] = psize
    buf[hdr_off + 15] = 0 if little else 1
    struct.pack_into(
        e + ptr + ptr, buf, hdr_off + 16, base + strhdr_off, base + strhdr_off + 2 * psize
    )
    struct.pack_into(e + ptr * 4, buf, strhdr_off, base + blob_off, len(version),
                     base + blob_off + len(version), len(mod))  # fmt: skip
    buf[blob_off : blob_off + len(version) + len(mod)] = version + mod
    return bytes(buf)


@pytest.mark.parametrize(("is64", "little"), [(True, True), (False, False)])
def test_pointer_format(is64: bool, little: bool) -> None:
    packages, skipped = catalog({"/old": pointer_format_elf(is64, little)})
    assert skipped == []
    assert {(p.name, p.version) for p in packages} == {
        ("stdlib", "go1.16.15"),
        ("example.org/old", "v0.9.0"),
        ("golang.org/x/text", "v0.3.0"),
    }


def test_pointer_outside_any_segment_is_skipped() -> None:
    data = bytearray(pointer_format_elf(True, True))
    struct.pack_into("<Q", data, 0x100 + 16, 0xDEAD0000)
    packages, skipped = catalog({"/old": bytes(data)})
    assert packages == []
    assert len(skipped) == 1 and "not in a loaded segment" in skipped[0]


def test_inline_length_past_the_section_is_skipped(app: Path) -> None:
    data = bytearray(app.read_bytes())
    at = data.find(b"\xff Go buildinf:")
    data[at + 32 : at + 37] = b"\xff\xff\xff\xff\x0f"  # a 4 GB uvarint length
    packages, skipped = catalog({"/app": bytes(data)})
    assert packages == [] and skipped and "past the section" in skipped[0]


@settings(max_examples=300, deadline=None)
@given(
    is64=st.booleans(),
    flips=st.lists(st.tuples(st.integers(0, 0x200), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_headers_never_crash(is64: bool, flips: list[tuple[int, int]]) -> None:
    """Random bytes in the ELF header, program headers and build-info header: a package list or
    a skipped entry, never an exception."""
    data = bytearray(pointer_format_elf(is64, True))
    for at, value in flips:
        data[at] = value
    files = LayerFiles({"/x": FileEntry("/x", len(data), 0o755, bytes(data))})
    for cataloger in (CATALOGER, AUDITABLE_CATALOGER):
        direct = cataloger.catalog(files, ParseEnv(None, files))
        reduced = cataloger.reduce("/x", bytes(data))
        if reduced is not None:
            view = LayerFiles({"/x": FileEntry("/x", len(data), 0o755, reduced)})  # tar size
            assert cataloger.catalog(view, ParseEnv(None, view)).packages == direct.packages
