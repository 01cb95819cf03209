"""The Rust catalogers: Cargo.lock and cargo-auditable data, on a crate built here by cargo.

`cargo auditable` cannot be installed here (crates.io is unreachable), so the `.dep-v0` section is
written in code from its documented format
(https://github.com/rust-secure-code/cargo-auditable/blob/master/PARSING.md: zlib-compressed JSON,
`{"packages": [{"name", "version", "source", "kind", "dependencies", "root"}]}`) and added with
binutils' objcopy to a real binary that cargo built.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import (
    CatalogResult,
    FileEntry,
    GlobCataloger,
    LayerFiles,
    ParseEnv,
)
from dockwatch.catalog.golang import CATALOGER as GO_CATALOGER
from dockwatch.catalog.golang import GoBinaryCataloger
from dockwatch.catalog.rust import AUDITABLE_CATALOGER, LOCK_CATALOGER
from dockwatch.catalog.rust.cataloger import RustAuditableCataloger

ITOA_SUM = "af150ab688ff2122fcef229be89cb50dd66af9e01a4ff320cc137eecc9bacc38"


def run(
    cataloger: GlobCataloger | RustAuditableCataloger | GoBinaryCataloger,
    entries: dict[str, bytes],
    size: int | None = None,
) -> CatalogResult:
    """Run `cataloger`; `size` is the tar header's (the original size of a reduced file)."""
    files = LayerFiles({p: FileEntry(p, size or len(d), 0o755, d) for p, d in entries.items()})
    return cataloger.catalog(files, ParseEnv(None, files))


@pytest.fixture(scope="module")
def crate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary crate with a vendored registry dependency and a path dependency, built offline."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed")
    root = tmp_path_factory.mktemp("rust")
    itoa = root / "vendor" / "itoa-1.0.9"
    (itoa / "src").mkdir(parents=True)
    (itoa / "Cargo.toml").write_text(
        '[package]\nname = "itoa"\nversion = "1.0.9"\nedition = "2018"\n'
    )
    (itoa / "src" / "lib.rs").write_text("pub fn f() -> u32 { 7 }\n")
    (itoa / ".cargo-checksum.json").write_text(json.dumps({"files": {}, "package": ITOA_SUM}))
    helper = root / "helper"
    (helper / "src").mkdir(parents=True)
    (helper / "Cargo.toml").write_text(
        '[package]\nname = "helper"\nversion = "0.3.1"\nedition = "2021"\n'
    )
    (helper / "src" / "lib.rs").write_text("pub fn g() -> u32 { 3 }\n")
    app = root / "app"
    (app / "src").mkdir(parents=True)
    (app / ".cargo").mkdir()
    (app / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
        'itoa = "1.0"\nhelper = { path = "../helper" }\n'
    )
    (app / "src" / "main.rs").write_text('fn main() { println!("{}", itoa::f() + helper::g()); }\n')
    (app / ".cargo" / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "vendored"\n\n'
        f'[source.vendored]\ndirectory = "{root / "vendor"}"\n'
    )
    env = {**os.environ, "CARGO_TARGET_DIR": str(root / "target")}
    subprocess.run(["cargo", "build", "--offline", "--release", "-q"], cwd=app, env=env,
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    return root


def cargo_metadata(crate: Path) -> list[dict[str, object]]:
    """The oracle: cargo's own view of the resolved packages."""
    out = subprocess.run(
        ["cargo", "metadata", "--offline", "--format-version", "1"],
        cwd=crate / "app", check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    packages = json.loads(out)["packages"]
    assert isinstance(packages, list)
    return packages


def test_cargo_lock_matches_cargo_metadata(crate: Path) -> None:
    lock = (crate / "app" / "Cargo.lock").read_bytes()
    result = run(LOCK_CATALOGER, {"/src/app/Cargo.lock": lock})
    assert result.skipped == ()
    want = {(p["name"], p["version"]) for p in cargo_metadata(crate)}
    assert {(p.name, p.version) for p in result.packages} == want
    by_name = {p.name: p for p in result.packages}
    assert by_name["itoa"].purl == "pkg:cargo/itoa@1.0.9"
    assert dict(by_name["itoa"].metadata)["source"].startswith("registry+")
    assert dict(by_name["helper"].metadata)["source"] == "local"
    assert all(p.type == "rust" and p.found_by == "rust-cargo-lock" for p in result.packages)


def auditable_json(crate: Path) -> bytes:
    """The dependency list cargo-auditable would embed, built from cargo metadata."""
    pkgs = sorted(cargo_metadata(crate), key=lambda p: str(p["name"]))
    index = {p["name"]: i for i, p in enumerate(pkgs)}
    out = []
    for p in pkgs:
        deps = p["dependencies"]
        assert isinstance(deps, list)
        entry: dict[str, object] = {
            "name": p["name"],
            "version": p["version"],
            "source": "crates.io" if p["source"] else "local",
            "dependencies": sorted(index[d["name"]] for d in deps),
        }
        if p["name"] == "app":
            entry["root"] = True
        out.append(entry)
    return json.dumps({"packages": out}).encode()


def with_section(crate: Path, name: str, payload: bytes) -> bytes:
    binary = crate / "target" / "release" / "app"
    section = crate / f"{name}.bin"
    section.write_bytes(payload)
    out = crate / f"app-{name}"
    subprocess.run(["objcopy", "--add-section", f".dep-v0={section}", str(binary), str(out)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    return out.read_bytes()


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="binutils' objcopy is not installed")
def test_auditable_section(crate: Path) -> None:
    data = with_section(crate, "good", zlib.compress(auditable_json(crate)))
    result = run(AUDITABLE_CATALOGER, {"/usr/local/bin/app": data})
    assert result.skipped == ()
    want = {(p["name"], p["version"]) for p in cargo_metadata(crate)}
    assert {(p.name, p.version) for p in result.packages} == want
    assert all(p.locations == ("/usr/local/bin/app",) for p in result.packages)
    assert {p.name for p in result.packages if ("root", "true") in p.metadata} == {"app"}


def test_binary_without_section_yields_nothing(crate: Path) -> None:
    data = (crate / "target" / "release" / "app").read_bytes()
    assert run(AUDITABLE_CATALOGER, {"/bin/app": data}) == CatalogResult()


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="binutils' objcopy is not installed")
def test_hostile_sections_are_skipped(crate: Path) -> None:
    bomb = with_section(crate, "bomb", zlib.compress(b" " * (64 << 20), 9))
    junk = with_section(crate, "junk", b"not zlib at all")
    notjson = with_section(crate, "notjson", zlib.compress(b"{oops"))
    result = run(AUDITABLE_CATALOGER, {"/a": bomb, "/b": junk, "/c": notjson})
    assert result.packages == ()
    reasons = {s.path: s.reason for s in result.skipped}
    assert "more than" in reasons["/a"]
    assert "not zlib" in reasons["/b"]
    assert "invalid JSON" in reasons["/c"]


def test_truncated_binary_is_left_to_the_go_cataloger(crate: Path) -> None:
    """Both catalogers read the same executables; the Go one reports malformed ELF headers."""
    data = with_section(crate, "trunc", zlib.compress(auditable_json(crate)))
    cut = data[: len(data) - 2000]
    assert run(AUDITABLE_CATALOGER, {"/t": cut}) == CatalogResult()
    go = run(GO_CATALOGER, {"/t": cut})
    assert go.packages == () and "malformed ELF" in go.skipped[0].reason


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="binutils' objcopy is not installed")
def test_reduced_binary_keeps_the_section(crate: Path) -> None:
    """What the layer reader keeps (`reduce`) yields the same crates as the whole binary."""
    data = with_section(crate, "reduced", zlib.compress(auditable_json(crate)))
    for cataloger in (AUDITABLE_CATALOGER, GO_CATALOGER):
        reduced = cataloger.reduce("/bin/app", data)
        assert reduced is not None and len(reduced) < 4096 < len(data)
        whole = run(AUDITABLE_CATALOGER, {"/bin/app": data})
        assert run(AUDITABLE_CATALOGER, {"/bin/app": reduced}, len(data)) == whole
        assert len(whole.packages) == 3
        assert run(GO_CATALOGER, {"/bin/app": reduced}, len(data)) == CatalogResult()
    plain = (crate / "target" / "release" / "app").read_bytes()
    assert AUDITABLE_CATALOGER.reduce("/bin/app", plain) is None


def test_malformed_cargo_lock_is_skipped() -> None:
    result = run(
        LOCK_CATALOGER,
        {
            "/a/Cargo.lock": b"[[package]\nname = ",
            "/b/Cargo.lock": b"package = 3\n",
            "/d/Cargo.lock": b"a = " + b"[" * 100_000,
            "/c/Cargo.lock": b'[[package]]\nname = "ok"\nversion = "1.0.0"\n',
        },
    )
    assert [(p.name, p.version) for p in result.packages] == [("ok", "1.0.0")]
    assert {s.path for s in result.skipped} == {"/a/Cargo.lock", "/b/Cargo.lock", "/d/Cargo.lock"}
