"""The Go cataloger on the corpus image debian-go, against its ground truth (`go version -m`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import LayerFiles, ParseEnv
from dockwatch.catalog.golang import CATALOGER
from dockwatch.catalog.golang.elf import is_elf
from dockwatch.model.package import Package
from tests.unit.catalog.golang.gobuild import go_available, go_version_m, go_version_m_text
from tests.unit.catalog.python.corpus_layers import contents_section, corpus_image, squashed_files

IMAGE = "debian-go"
LINE = re.compile(r"^(?P<path>/\S+): (?P<go>go\S+), path (?P<main>\S+), (?P<deps>\d+) deps$")

pytestmark = pytest.mark.skipif(
    corpus_image(IMAGE) is None, reason=f"corpus image {IMAGE} absent (build-corpus.sh)"
)
needs_go = pytest.mark.skipif(not go_available(), reason="Debian's golang-go is not installed")


@pytest.fixture(scope="module")
def reduced_files() -> LayerFiles:
    """Executables as the layer reader keeps them (after `reduce`)."""
    layout = corpus_image(IMAGE)
    assert layout is not None
    return squashed_files(layout, [CATALOGER])


@pytest.fixture(scope="module")
def reduced(reduced_files: LayerFiles) -> dict[str, bytes]:
    return {p: e.data for p, e in reduced_files.files.items() if e.data is not None}


@pytest.fixture(scope="module")
def originals() -> dict[str, bytes]:
    """Every ELF executable of the image, whole."""
    layout = corpus_image(IMAGE)
    assert layout is not None
    files = squashed_files(layout, [CATALOGER], reduce=False)
    return {p: e.data for p, e in files.files.items() if e.data is not None and is_elf(e.data)}


@pytest.fixture(scope="module")
def found(reduced_files: LayerFiles) -> dict[str, list[Package]]:
    result = CATALOGER.catalog(reduced_files, ParseEnv(None, reduced_files))
    assert result.skipped == ()
    by_binary: dict[str, list[Package]] = {}
    for p in result.packages:
        by_binary.setdefault(p.locations[0], []).append(p)
    return by_binary


def test_every_go_binary_of_the_ground_truth(found: dict[str, list[Package]]) -> None:
    truth = [m for line in contents_section(IMAGE, "Go binaries") if (m := LINE.match(line))]
    assert len(truth) == 18
    assert set(found) == {m["path"] for m in truth}
    for m in truth:
        pkgs = found[m["path"]]
        assert [p.version for p in pkgs if p.name == "stdlib"] == [m["go"]]
        deps = [p for p in pkgs if p.name != "stdlib" and dict(p.metadata).get("main") != "true"]
        assert len(deps) == int(m["deps"]), m["path"]
        assert {
            dict(p.metadata).get("main_module", dict(p.metadata).get("main_path")) for p in pkgs
        } <= {
            m["main"].rsplit("/cmd/", 1)[0],
            m["main"],
        }


def test_reduction_keeps_kilobytes(reduced: dict[str, bytes], originals: dict[str, bytes]) -> None:
    go_binaries = set(reduced)
    assert len(go_binaries) == 18
    assert sum(len(reduced[p]) for p in go_binaries) < 64 << 10
    assert sum(len(originals[p]) for p in go_binaries) > 64 << 20
    # Non-Go executables (bash, coreutils, gpg ...) are dropped, not kept.
    assert len(originals) > len(go_binaries)


def _run_go(tmp_path: Path, name: str, data: bytes) -> Path:
    binary = tmp_path / name
    binary.write_bytes(data)
    binary.chmod(0o755)
    return binary


@needs_go
def test_reduced_files_read_the_same_with_go_itself(
    reduced: dict[str, bytes], originals: dict[str, bytes], tmp_path: Path
) -> None:
    """`go version -m` prints the same build info for each whole binary and its reduction."""
    for i, path in enumerate(sorted(reduced)):
        whole = go_version_m_text(_run_go(tmp_path, f"w{i}", originals[path]))
        small = go_version_m_text(_run_go(tmp_path, f"r{i}", reduced[path]))
        assert whole.split("\n", 1)[1] == small.split("\n", 1)[1], path


@needs_go
def test_module_build_matches_go_version_m(
    found: dict[str, list[Package]], originals: dict[str, bytes], tmp_path: Path
) -> None:
    oracle = go_version_m(_run_go(tmp_path, "syft", originals["/usr/local/bin/syft"]))
    want = {(repl or (path, version)) for path, version, repl in oracle.deps}
    got = {(p.name, p.version) for p in found["/usr/local/bin/syft"]}
    assert got - {("stdlib", oracle.go_version), ("github.com/anchore/syft", "v1.18.1")} == want
    # The main module is `(devel)` in the build info; its version comes from -ldflags, as syft's.
    assert oracle.mod == ("github.com/anchore/syft", "(devel)")


@needs_go
def test_gopath_builds_carry_no_module_so_only_stdlib(
    found: dict[str, list[Package]], originals: dict[str, bytes], tmp_path: Path
) -> None:
    """syft reports each Debian binary's `path` as a module at version `(devel)`
    (`github.com/containers/skopeo/cmd/skopeo (devel)`, 17 such): their build info has a `path`
    line and no `mod` line (GOPATH mode), so there is no module and no version to report."""
    debian = sorted(p for p in found if p != "/usr/local/bin/syft")
    assert len(debian) == 17
    for i, path in enumerate(debian):
        oracle = go_version_m(_run_go(tmp_path, f"d{i}", originals[path]))
        assert oracle.mod is None and oracle.deps == [] and oracle.path, path
        assert [(p.name, p.version) for p in found[path]] == [("stdlib", "go1.19.8")]
        assert dict(found[path][0].metadata)["main_path"] == oracle.path
