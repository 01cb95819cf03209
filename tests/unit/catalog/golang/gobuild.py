"""Build real Go binaries offline with Debian's golang-go, for the Go and corpus tests.

Dependencies come from a `file://` GOPROXY written here (the module proxy protocol is just files:
https://go.dev/ref/mod#goproxy-protocol), so builds need no network and the binaries carry real
`dep` lines with versions and go.sum hashes; one dependency is replaced by another module and one
by a local directory, as `replace` directives do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

MODULES = {
    ("example.com/dep", "v1.2.3"): 'package dep\n\nfunc Hello() string { return "dep" }\n',
    ("example.com/other", "v0.4.0"): 'package other\n\nfunc Hello() string { return "other" }\n',
    ("example.com/fork", "v0.5.0"): 'package other\n\nfunc Hello() string { return "fork" }\n',
}

GO_MOD = """module example.com/app

go 1.17

require (
\texample.com/dep v1.2.3
\texample.com/other v0.4.0
\texample.com/local v0.0.0
)

replace example.com/other => example.com/fork v0.5.0

replace example.com/local => ./local
"""

MAIN_GO = """package main

import (
\t"fmt"

\t"example.com/dep"
\t"example.com/local"
\t"example.com/other"
)

func main() { fmt.Println(dep.Hello(), other.Hello(), local.Hello()) }
"""


@dataclass(frozen=True, slots=True)
class GoVersionM:
    """What `go version -m` prints: the oracle for our reader."""

    go_version: str
    path: str
    mod: tuple[str, str] | None
    deps: list[tuple[str, str, tuple[str, str] | None]]
    """(path, version, replacement (path, version) or None)."""


def go_available() -> bool:
    """Whether Debian's `go` is on PATH."""
    return shutil.which("go") is not None


def _write_proxy(root: Path) -> None:
    for (path, version), source in MODULES.items():
        vdir = root / path / "@v"
        vdir.mkdir(parents=True, exist_ok=True)
        gomod = f"module {path}\n\ngo 1.17\n"
        with (vdir / "list").open("a") as fh:
            fh.write(version + "\n")
        (vdir / f"{version}.info").write_text(
            json.dumps({"Version": version, "Time": "2020-01-01T00:00:00Z"})
        )
        (vdir / f"{version}.mod").write_text(gomod)
        with zipfile.ZipFile(vdir / f"{version}.zip", "w") as zf:
            zf.writestr(f"{path}@{version}/go.mod", gomod)
            zf.writestr(f"{path}@{version}/x.go", source)


def build(workdir: Path, name: str, ldflags: str = "") -> Path:
    """Build the test app into `workdir/name`; returns the binary's path."""
    proxy = workdir / "proxy"
    if not proxy.exists():
        _write_proxy(proxy)
    app = workdir / "src"
    if not app.exists():
        (app / "local").mkdir(parents=True)
        (app / "local" / "go.mod").write_text("module example.com/local\n\ngo 1.17\n")
        (app / "local" / "local.go").write_text(
            'package local\n\nfunc Hello() string { return "local" }\n'
        )
        (app / "go.mod").write_text(GO_MOD)
        (app / "main.go").write_text(MAIN_GO)
    env = {
        **os.environ,
        "GOPROXY": f"file://{proxy}",
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(workdir / "cache"),
        "GOPATH": str(workdir / "gopath"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    out = workdir / name
    cmd = ["go", "build", "-o", str(out)]
    if ldflags:
        cmd.append(f"-ldflags={ldflags}")
    subprocess.run([*cmd, "."], cwd=app, env=env, check=True, capture_output=True, timeout=300)
    return out


def go_version_m_text(binary: Path) -> str:
    """What `go version -m BINARY` prints."""
    return subprocess.run(
        ["go", "version", "-m", str(binary)], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def go_version_m(binary: Path) -> GoVersionM:
    """Run and parse `go version -m BINARY`."""
    text = go_version_m_text(binary)
    lines = text.splitlines()
    go_version = lines[0].split(": ", 1)[1].strip()
    path = ""
    mod: tuple[str, str] | None = None
    deps: list[tuple[str, str, tuple[str, str] | None]] = []
    for line in lines[1:]:
        parts = line.strip("\t").split("\t")
        if parts[0] == "path":
            path = parts[1]
        elif parts[0] == "mod":
            mod = (parts[1], parts[2])
        elif parts[0] == "dep":
            deps.append((parts[1], parts[2], None))
        elif parts[0] == "=>" and deps:
            p, v, _ = deps[-1]
            deps[-1] = (p, v, (parts[1], parts[2] if len(parts) > 2 else ""))
    return GoVersionM(go_version, path, mod, deps)
