"""coalesce: database rewrites attribute only what changed; file packages union minus whiteouts;
os_package from the OS file lists."""

from __future__ import annotations

from dockwatch.catalog.cataloger import CatalogResult
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.model.digest import Digest
from dockwatch.model.package import Package

L1, L2, L3 = (Digest("sha256:" + c * 64) for c in "123")


def deb(name: str, version: str) -> Package:
    return Package(
        name,
        version,
        "deb",
        f"pkg:deb/debian/{name}@{version}",
        locations=("/var/lib/dpkg/status",),
        found_by="dpkg-db",
    )


def py(name: str, version: str, path: str) -> Package:
    return Package(
        name, version, "python", f"pkg:pypi/{name}@{version}", locations=(path,), found_by="python"
    )


def test_rewritten_database_attributes_only_changes() -> None:
    base = CatalogResult((deb("a", "1"), deb("b", "1"), deb("c", "1")))
    upper = CatalogResult((deb("a", "1"), deb("b", "2"), deb("c", "1"), deb("d", "1")))
    got = {
        (p.name, p.version): p.layer_digest
        for p in coalesce(
            [LayerCatalog(L1, {"dpkg-db": base}), LayerCatalog(L2, {"dpkg-db": upper})]
        )
    }
    assert got == {("a", "1"): L1, ("b", "2"): L2, ("c", "1"): L1, ("d", "1"): L2}


def test_removed_from_database() -> None:
    base = CatalogResult((deb("a", "1"), deb("b", "1")))
    upper = CatalogResult((deb("a", "1"),))
    got = coalesce([LayerCatalog(L1, {"dpkg-db": base}), LayerCatalog(L2, {"dpkg-db": upper})])
    assert [(p.name, p.layer_digest) for p in got] == [("a", L1)]


def test_whiteouts_and_opaque_dirs() -> None:
    site = "/usr/local/lib/python3.11/site-packages"
    l1 = CatalogResult(
        (
            py("yaml", "5.3", f"{site}/PyYAML-5.3.dist-info/METADATA"),
            py("six", "1", f"{site}/six-1.dist-info/METADATA"),
        )
    )
    l2 = CatalogResult((py("attrs", "1", "/opt/app/attrs-1.dist-info/METADATA"),))
    l3 = CatalogResult()
    layers = [
        LayerCatalog(L1, {"python": l1}),
        LayerCatalog(L2, {"python": l2}, whiteouts=frozenset({f"{site}/PyYAML-5.3.dist-info"})),
        LayerCatalog(L3, {"python": l3}, opaque_dirs=frozenset({"/opt/app"})),
    ]
    assert [(p.name, p.layer_digest) for p in coalesce(layers)] == [("six", L1)]
    # A whiteout in the same layer as a file does not remove that layer's own file.
    same = [LayerCatalog(L1, {"python": l2}, whiteouts=frozenset({"/opt/app/attrs-1.dist-info"}))]
    assert [p.name for p in coalesce(same)] == ["attrs"]


def test_os_package_owner() -> None:
    jar = Package(
        "com.fasterxml.jackson.core:jackson-databind",
        "2.14.0",
        "java",
        "pkg:maven/x",
        locations=("/usr/share/java/jackson-databind.jar",),
        found_by="java",
    )
    mine = Package(
        "app",
        "1",
        "java",
        "pkg:maven/app",
        locations=("/app/app.jar!/BOOT-INF/lib/x.jar",),
        found_by="java",
    )
    owner = Package(
        "libjackson2-databind-java",
        "2.14.0-1+deb12u1",
        "deb",
        "pkg:deb/x",
        locations=("/var/lib/dpkg/status",),
        found_by="dpkg-db",
        source_name="jackson-databind",
    )
    layers = [
        LayerCatalog(
            L1,
            {
                "dpkg-db": CatalogResult(
                    (owner,),
                    owned_files=(
                        ("libjackson2-databind-java", ("/usr/share/java/jackson-databind.jar",)),
                    ),
                )
            },
        ),
        LayerCatalog(L2, {"java": CatalogResult((jar, mine))}),
    ]
    got = {p.name: p for p in coalesce(layers)}
    ref = got["com.fasterxml.jackson.core:jackson-databind"].os_package
    assert ref is not None and (ref.name, ref.version, ref.source_name) == (
        "libjackson2-databind-java",
        "2.14.0-1+deb12u1",
        "jackson-databind",
    )
    assert got["app"].os_package is None
    assert got["com.fasterxml.jackson.core:jackson-databind"].layer_digest == L2
