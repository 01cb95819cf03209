"""Build Go `Package`s: modules (`pkg:golang/host/path@v1.2.3`) and the toolchain (`stdlib`)."""

from __future__ import annotations

import re

from packageurl import PackageURL

from dockwatch.catalog.golang.parse_buildinfo import BuildInfo, Module
from dockwatch.model.package import Package

FOUND_BY = "go-binary"
#: Versions that name no release: a local build, or a directory replacement.
NO_VERSION = ("", "(devel)")


def golang_purl(path: str, version: str) -> str:
    """`github.com/a/b` -> namespace `github.com/a`, name `b`."""
    namespace, _, name = path.rpartition("/")
    return PackageURL(
        type="golang", namespace=namespace or None, name=name, version=version
    ).to_string()


#: `-X some/pkg.version=1.2.3` in `-ldflags`: how release builds stamp the main module's version
#: when the toolchain only knows `(devel)` (goreleaser and most Makefiles do this).
_LDFLAGS_VERSION = re.compile(
    r"-X[= ]['\"]?[\w./-]*\.(?:[vV]ersion|gitDescription)=['\"]?v?(\d+\.\d+\.\d+[\w.+-]*)"
)


def main_version(info: BuildInfo) -> tuple[str, str] | None:
    """(version, evidence) of the main module: its module line, else the version stamped with
    `-ldflags -X ...version=`; None when neither says anything (`(devel)`, GOPATH builds)."""
    if info.main is None:
        return None
    if info.main.version not in NO_VERSION:
        return info.main.version, "buildinfo"
    m = _LDFLAGS_VERSION.search(info.settings.get("-ldflags", ""))
    if m is None:
        return None
    return f"v{m.group(1)}", "ldflags"


def stdlib_version(go_version: str) -> str | None:
    """`go1.21.3 X:boringcrypto` -> `go1.21.3`; None for development toolchains (`devel +abc`)."""
    version = go_version.split(" ", 1)[0]
    return version if version.startswith("go") and version[2:3].isdigit() else None


def packages_of(binary: str, info: BuildInfo) -> list[Package]:
    """The stdlib, the main module when it has a release version, and every dependency.

    A GOPATH-mode build (Debian's Go packages) has a `path` line but no `mod` line: it carries no
    module version at all, so only the stdlib is reported (syft reports the path as `(devel)`).

    A dependency replaced by another module is reported as the replacement (its code is what was
    compiled in), naming the original in metadata; one replaced by a local directory keeps its
    path with version `(devel)`: no release of it is in the binary.
    """
    arch = info.settings.get("GOARCH") or None
    base: list[tuple[str, str]] = [("go_toolchain", info.go_version)]
    if info.main is not None:
        base.append(("main_module", info.main.path))
    elif info.path:
        base.append(("main_path", info.path))
    out: list[Package] = []
    std = stdlib_version(info.go_version)
    if std is not None:
        out.append(
            Package(
                name="stdlib",
                version=std,
                type="go",
                purl=PackageURL(type="golang", name="stdlib", version=std[2:]).to_string(),
                locations=(binary,),
                found_by=FOUND_BY,
                arch=arch,
                licenses=("BSD-3-Clause",),
                metadata=tuple(sorted(base)),
                package_manager="GOBINARY",
            )
        )
    found = main_version(info)
    if info.main is not None and found is not None:
        version, evidence = found
        main = Module(info.main.path, version, info.main.sum, info.main.replace)
        meta = [*base, ("version_evidence", evidence)]
        out.append(_module(binary, main, meta, arch, main=True))
    out.extend(_module(binary, dep, base, arch, main=False) for dep in info.deps)
    return out


def _module(
    binary: str, mod: Module, base: list[tuple[str, str]], arch: str | None, main: bool
) -> Package:
    meta = list(base)
    if main:
        meta.append(("main", "true"))
    name, version, digest = mod.path, mod.version, mod.sum
    if mod.replace is not None:
        if mod.replace.version in NO_VERSION:
            meta.append(("replaced_by", mod.replace.path))
            version, digest = "(devel)", ""
        else:
            meta.append(("replaces", f"{mod.path}@{mod.version}"))
            name, version, digest = mod.replace.path, mod.replace.version, mod.replace.sum
    if digest:
        meta.append(("h1_digest", digest))
    return Package(
        name=name,
        version=version,
        type="go",
        purl=golang_purl(name, version),
        locations=(binary,),
        found_by=FOUND_BY,
        arch=arch,
        metadata=tuple(sorted(meta)),
        package_manager="GOBINARY",
    )
