"""The go.mod cataloger: on the go.mod and go.sum Debian's Go writes while building the test app
(oracle: `go version -m` of the binary built from them), and on the documented syntax
(https://go.dev/ref/mod#go-mod-file) for what that app does not use."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.catalog.cataloger import Cataloger, CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.catalog.golang import CATALOGER, MOD_CATALOGER
from dockwatch.model.digest import Digest
from tests.unit.catalog.golang.gobuild import build, go_available, go_version_m

needs_go = pytest.mark.skipif(not go_available(), reason="Debian's golang-go is not installed")


def run(entries: dict[str, bytes], cataloger: Cataloger = MOD_CATALOGER) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o755, d) for p, d in entries.items()})
    return cataloger.catalog(files, ParseEnv(None, files))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not go_available():
        pytest.skip("Debian's golang-go is not installed")
    workdir = tmp_path_factory.mktemp("gomod")
    build(workdir, "app")
    return workdir


@needs_go
def test_go_mod_and_go_sum_as_go_builds_them(built: Path) -> None:
    src = built / "src"
    result = run(
        {"/src/app/go.mod": (src / "go.mod").read_bytes(),
         "/src/app/go.sum": (src / "go.sum").read_bytes()}
    )  # fmt: skip
    assert result.skipped == ()
    oracle = go_version_m(built / "app")
    want = set()
    for path, version, repl in oracle.deps:
        if repl is None:
            want.add((path, version))
        elif repl[1] not in ("", "(devel)"):
            want.add(repl)  # the replacement's code is what the build gets
    assert {(p.name, p.version) for p in result.packages} == want
    assert {p.package_manager for p in result.packages} == {"GOMOD"}
    fork = next(p for p in result.packages if p.name == "example.com/fork")
    assert dict(fork.metadata)["replaces"] == "example.com/other@v0.4.0"
    assert fork.purl == "pkg:golang/example.com/fork@v0.5.0"
    # go.sum confirms each module with the content hash the binary records too
    binary = run({"/usr/bin/app": (built / "app").read_bytes()}, CATALOGER)
    digests = {p.name: dict(p.metadata).get("h1_digest") for p in binary.packages}
    assert {p.name: dict(p.metadata)["h1_digest"] for p in result.packages} == {
        p.name: digests[p.name] for p in result.packages
    }


@needs_go
def test_binary_wins_over_the_go_mod_it_was_built_from(built: Path) -> None:
    src = built / "src"
    layer = {
        "/usr/bin/app": (built / "app").read_bytes(),
        "/src/go.mod": (src / "go.mod").read_bytes(),
    }
    files = LayerFiles({p: FileEntry(p, len(d), 0o755, d) for p, d in layer.items()})
    env = ParseEnv(None, files)
    results = {c.name: c.catalog(files, env) for c in (CATALOGER, MOD_CATALOGER)}
    packages = coalesce([LayerCatalog(Digest("sha256:" + "2" * 64), results)])
    modules = [p for p in packages if p.name.startswith("example.com/")]
    assert modules and {p.package_manager for p in modules} == {"GOBINARY"}
    assert all(
        p.locations == ("/usr/bin/app", "/src/go.mod") for p in modules if p.version != "(devel)"
    )


GO_MOD = b"""// a comment line
module "example.com/svc"

go 1.22
toolchain go1.22.1

require github.com/pkg/errors v0.9.1

require (
\tgolang.org/x/net v0.19.0 // indirect
\t"golang.org/x/text" v0.14.0
\tgithub.com/old/thing v1.0.0
\tgithub.com/old/vendored v2.0.0+incompatible
)

exclude golang.org/x/net v0.18.0

replace (
\tgithub.com/old/thing v1.0.0 => github.com/new/thing v1.0.1
\tgithub.com/old/thing => github.com/never/used v9.9.9
\tgithub.com/old/vendored => ../vendored
)

retract [v1.0.0, v1.0.5]
"""

GO_SUM = b"""github.com/pkg/errors v0.9.1 h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=
github.com/pkg/errors v0.9.1/go.mod h1:bwawxfHBFNV+L2hUp1rHADufV3IMtnDRdf1r5NINEl0=
golang.org/x/net v0.19.0/go.mod h1:CfAk/cbD4CthTvqiEl8NpboMuiuOYsAr/7NOjZJtv1U=
"""


def test_documented_syntax() -> None:
    result = run({"/go/src/svc/go.mod": GO_MOD, "/go/src/svc/go.sum": GO_SUM})
    assert result.skipped == ()
    got = {p.name: (p.version, dict(p.metadata)) for p in result.packages}
    assert set(got) == {"github.com/pkg/errors", "golang.org/x/net", "golang.org/x/text",
                        "github.com/new/thing"}  # fmt: skip
    assert got["golang.org/x/net"][1]["indirect"] == "true"
    assert got["github.com/new/thing"][0] == "v1.0.1"  # the version-specific replace wins
    assert got["github.com/pkg/errors"][1]["h1_digest"].startswith("h1:FEBLx1")
    assert "h1_digest" not in got["golang.org/x/net"][1]  # only its go.mod hash is listed
    assert all(meta["main_module"] == "example.com/svc" for _, meta in got.values())


def test_unterminated_block_is_skipped() -> None:
    result = run({"/a/go.mod": b"module x\nrequire (\n\tgithub.com/a/b v1.0.0\n"})
    assert result.packages == ()
    assert [s.path for s in result.skipped] == ["/a/go.mod"]
