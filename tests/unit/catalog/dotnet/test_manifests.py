"""The NuGet manifest cataloger on packages.lock.json, packages.config and *.csproj files.

No .NET SDK installs here, so the files follow the documented formats (links in
`catalog/dotnet/parse_nuget.py`): a packages.lock.json as `dotnet restore --use-lock-file` writes
it for an SDK-style project, a packages.config as NuGet 2 wrote it, and SDK-style and old-style
(MSBuild 2003 namespace) project files.
"""

from __future__ import annotations

import json

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.catalog.dotnet import CATALOGER, MANIFEST_CATALOGER
from dockwatch.model.digest import Digest

LOCK = {
    "version": 1,
    "dependencies": {
        "net8.0": {
            "Newtonsoft.Json": {"type": "Direct", "requested": "[13.0.1, )", "resolved": "13.0.1",
                                "contentHash": "ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0"},
            "System.Text.Json": {"type": "Transitive", "resolved": "8.0.0", "contentHash": "x"},
            "Acme.Shared": {"type": "Project", "dependencies": {"Newtonsoft.Json": "[13.0.1, )"}},
        },
        "net8.0/linux-x64": {
            "System.Text.Json": {"type": "Transitive", "resolved": "8.0.0", "contentHash": "x"},
        },
    },
}  # fmt: skip

PACKAGES_CONFIG = b"""<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="EntityFramework" version="6.4.4" targetFramework="net48" />
  <package id="Microsoft.CodeDom.Providers.DotNetCompilerPlatform" version="2.0.1"
           targetFramework="net48" developmentDependency="true" />
</packages>
"""

SDK_CSPROJ = b"""<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <SerilogVersion>3.1.1</SerilogVersion>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Serilog" Version="$(SerilogVersion)" />
    <PackageReference Include="Dapper">
      <Version>2.1.24</Version>
    </PackageReference>
    <PackageReference Include="Polly" Version="[8.2.0]" />
    <PackageReference Include="Floating" Version="1.*" />
    <PackageReference Include="Ranged" Version="[1.0,2.0)" />
    <PackageReference Include="FromProps" Version="$(NotDefinedHere)" />
    <PackageReference Update="Central" Version="9.9.9" />
  </ItemGroup>
</Project>
"""

OLD_CSPROJ = b"""<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="15.0" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <ItemGroup>
    <PackageReference Include="log4net"><Version>2.0.15</Version></PackageReference>
  </ItemGroup>
</Project>
"""


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return MANIFEST_CATALOGER.catalog(files, ParseEnv(None, files))


def test_packages_lock_json() -> None:
    result = run({"/src/api/packages.lock.json": json.dumps(LOCK).encode("utf-8-sig")})
    assert result.skipped == ()
    assert sorted((p.name, p.version) for p in result.packages) == [
        ("Newtonsoft.Json", "13.0.1"),
        ("System.Text.Json", "8.0.0"),  # once, though two runtimes list it
    ]
    assert {p.package_manager for p in result.packages} == {"NUGET"}
    assert result.packages[0].purl == "pkg:nuget/Newtonsoft.Json@13.0.1"


def test_packages_config() -> None:
    result = run({"/src/web/packages.config": PACKAGES_CONFIG})
    got = {p.name: dict(p.metadata) for p in result.packages}
    assert set(got) == {"EntityFramework", "Microsoft.CodeDom.Providers.DotNetCompilerPlatform"}
    assert got["Microsoft.CodeDom.Providers.DotNetCompilerPlatform"]["dev"] == "true"


def test_csproj_package_references() -> None:
    result = run({"/src/api/Api.csproj": SDK_CSPROJ, "/src/old/Old.csproj": OLD_CSPROJ})
    assert {(p.name, p.version) for p in result.packages} == {
        ("Serilog", "3.1.1"),  # from the project's own PropertyGroup
        ("Dapper", "2.1.24"),  # the version as a child element
        ("Polly", "8.2.0"),  # an exact [x] pin
        ("log4net", "2.0.15"),  # old-style project, namespaced
    }
    [unresolved] = result.skipped
    assert unresolved.path == "/src/api/Api.csproj" and "FromProps" in unresolved.reason


def test_deps_json_wins_over_the_project_file() -> None:
    deps = {"libraries": {"Dapper/2.1.24": {"type": "package"}}}
    layer = {"/app/Api.deps.json": json.dumps(deps).encode(), "/src/api/Api.csproj": SDK_CSPROJ}
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in layer.items()})
    env = ParseEnv(None, files)
    results = {c.name: c.catalog(files, env) for c in (CATALOGER, MANIFEST_CATALOGER)}
    packages = coalesce([LayerCatalog(Digest("sha256:" + "4" * 64), results)])
    dapper = [p for p in packages if p.name == "Dapper"]
    assert [(p.package_manager, p.locations) for p in dapper] == [
        ("DOTNET_CORE", ("/app/Api.deps.json", "/src/api/Api.csproj"))
    ]


def test_malformed_files_are_skipped() -> None:
    result = run({"/a/packages.config": b"<nope/>", "/b/packages.lock.json": b"[]",
                  "/c/x.csproj": b"<Project"})  # fmt: skip
    assert result.packages == ()
    assert sorted(s.path for s in result.skipped) == [
        "/a/packages.config",
        "/b/packages.lock.json",
        "/c/x.csproj",
    ]
