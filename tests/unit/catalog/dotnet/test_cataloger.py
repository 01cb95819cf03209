"""The .NET cataloger on deps.json files shaped as the .NET SDK writes them.

No .NET SDK installs from Debian, so the fixture is written in code after the documented format
(https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md) and the
deps.json of a `dotnet new webapi` app published self-contained.
"""

from __future__ import annotations

import json

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.dotnet import CATALOGER

DEPS = {
    "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0/linux-x64", "signature": ""},
    "compilationOptions": {},
    "targets": {
        ".NETCoreApp,Version=v8.0": {},
        ".NETCoreApp,Version=v8.0/linux-x64": {
            "MyApi/1.0.0": {
                "dependencies": {"Newtonsoft.Json": "13.0.1", "Serilog": "3.1.1"},
                "runtime": {"MyApi.dll": {}},
            },
            "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.1": {"runtime": {}},
            "Newtonsoft.Json/13.0.1": {"runtime": {"lib/net6.0/Newtonsoft.Json.dll": {}}},
            "Serilog/3.1.1": {"runtime": {"lib/net7.0/Serilog.dll": {}}},
            "System.Runtime/4.3.0": {},
        },
    },
    "libraries": {
        "MyApi/1.0.0": {"type": "project", "serviceable": False, "sha512": ""},
        "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.1": {
            "type": "runtimepack",
            "serviceable": False,
            "sha512": "",
        },
        "Newtonsoft.Json/13.0.1": {
            "type": "package",
            "serviceable": True,
            "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==",
            "path": "newtonsoft.json/13.0.1",
            "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512",
        },
        "Serilog/3.1.1": {"type": "package", "serviceable": True, "sha512": "sha512-x"},
        "System.Runtime/4.3.0": {"type": "referenceassembly", "serviceable": False, "sha512": ""},
    },
}


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return CATALOGER.catalog(files, ParseEnv(None, files))


def test_packages_project_and_runtime_pack() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(DEPS).encode()  # the SDK writes a UTF-8 BOM
    result = run({"/app/MyApi.deps.json": data})
    assert result.skipped == ()
    got = {(p.name, p.version, dict(p.metadata)["library_type"]) for p in result.packages}
    assert got == {
        ("MyApi", "1.0.0", "project"),
        ("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64", "8.0.1", "runtimepack"),
        ("Newtonsoft.Json", "13.0.1", "package"),
        ("Serilog", "3.1.1", "package"),
    }
    by_name = {p.name: p for p in result.packages}
    assert by_name["Newtonsoft.Json"].purl == "pkg:nuget/Newtonsoft.Json@13.0.1"
    assert all(p.type == "nuget" and p.found_by == "dotnet-deps" for p in result.packages)
    assert all(p.locations == ("/app/MyApi.deps.json",) for p in result.packages)


def test_malformed_deps_json_is_skipped() -> None:
    result = run(
        {
            "/a/x.deps.json": b"{",
            "/b/x.deps.json": b'{"libraries": []}',
            "/c/x.deps.json": b"[" * 100_000,
            "/d/x.deps.json": b'{"libraries": {"noslash": {"type": "package"}, "A/1": 3}}',
        }
    )
    assert result.packages == ()
    assert {s.path for s in result.skipped} == {
        "/a/x.deps.json",
        "/b/x.deps.json",
        "/c/x.deps.json",
    }
