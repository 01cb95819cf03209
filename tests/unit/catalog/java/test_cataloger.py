"""The Java archive cataloger: evidence-only coordinates, nesting, and hostile archives."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.catalog.cataloger import (
    CatalogResult,
    FileEntry,
    LayerFiles,
    ParseEnv,
    match_glob,
)
from dockwatch.catalog.java import CATALOGER, JavaArchiveCataloger
from dockwatch.catalog.java.parse_archive import Limits
from tests.unit.catalog.java.jars import jar, manifest


def run(entries: dict[str, bytes], cataloger: JavaArchiveCataloger = CATALOGER) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return cataloger.catalog(files, ParseEnv(None, files))


def test_pom_properties_give_group_artifact_version() -> None:
    data = jar({"META-INF/MANIFEST.MF": manifest()}, poms=(("org.yaml", "snakeyaml", "1.33"),))
    result = run({"/usr/share/java/snakeyaml.jar": data})
    [pkg] = result.packages
    assert (pkg.name, pkg.version, pkg.type) == ("org.yaml:snakeyaml", "1.33", "java")
    assert pkg.purl == "pkg:maven/org.yaml/snakeyaml@1.33"
    assert pkg.locations == ("/usr/share/java/snakeyaml.jar",)
    assert pkg.found_by == "java-archive"
    assert dict(pkg.metadata)["evidence"] == "pom.properties"
    assert result.skipped == ()


def test_shaded_jar_reports_every_pom() -> None:
    data = jar(
        {},
        poms=(
            ("org.apache.httpcomponents", "httpclient-osgi", "4.5.14"),
            ("commons-codec", "commons-codec", "1.15"),
        ),
    )
    names = {p.name for p in run({"/x/httpclient-osgi.jar": data}).packages}
    assert names == {"org.apache.httpcomponents:httpclient-osgi", "commons-codec:commons-codec"}


def test_manifest_fallback_never_invents_a_group() -> None:
    mf = manifest(
        Bundle_SymbolicName="org.apache.commons.logging;singleton:=true",
        Implementation_Version="1.2",
        Implementation_Vendor_Id="org.apache",
        Bundle_License="Apache-2.0",
    )
    [pkg] = run(
        {"/usr/share/java/commons-logging-1.2.jar": jar({"META-INF/MANIFEST.MF": mf})}
    ).packages
    assert (pkg.name, pkg.version) == ("org.apache.commons.logging", "1.2")
    assert pkg.purl == "pkg:maven/org.apache.commons.logging@1.2"
    meta = dict(pkg.metadata)
    assert meta["evidence"] == "MANIFEST.MF" and meta["name_field"] == "Bundle-SymbolicName"
    assert meta["implementation_vendor_id"] == "org.apache"
    assert pkg.licenses == ("Apache-2.0",)


def test_manifest_with_wrapped_lines() -> None:
    mf = b"Manifest-Version: 1.0\r\nImplementation-Title: a-very-long-na\r\n me\r\nImplementation-Version: 3\r\n\r\nName: x/\r\nImplementation-Version: 9\r\n"
    [pkg] = run({"/a.jar": jar({"META-INF/MANIFEST.MF": mf})}).packages
    assert (pkg.name, pkg.version) == ("a-very-long-name", "3")


def test_jenkins_plugin_manifest() -> None:
    mf = manifest(Group_Id="org.jenkins-ci.plugins", Short_Name="git", Plugin_Version="5.2.1")
    [pkg] = run({"/var/jenkins_home/plugins/git.jpi": jar({"META-INF/MANIFEST.MF": mf})}).packages
    assert (pkg.name, pkg.version) == ("org.jenkins-ci.plugins:git", "5.2.1")


def test_no_evidence_is_skipped_not_guessed_from_the_file_name() -> None:
    result = run(
        {"/usr/share/java/mongodb-driver-3.6.3.jar": jar({"META-INF/MANIFEST.MF": manifest()})}
    )
    assert result.packages == ()
    [skip] = result.skipped
    assert skip.path == "/usr/share/java/mongodb-driver-3.6.3.jar"
    assert "coordinates unknown" in skip.reason


def test_debian_maven_repo_link_is_evidence() -> None:
    """maven-repo-helper links /usr/share/maven-repo/<g>/<a>/<v>/<a>-<v>.jar to the jar."""
    bare = jar({"META-INF/MANIFEST.MF": manifest()})
    with_pom = jar({}, poms=(("org.yaml", "snakeyaml", "1.33"),))
    files = LayerFiles(
        {
            "/usr/share/java/mongodb-driver-3.6.3.jar": FileEntry(
                "/usr/share/java/mongodb-driver-3.6.3.jar", len(bare), 0o644, bare
            ),
            "/usr/share/java/snakeyaml.jar": FileEntry(
                "/usr/share/java/snakeyaml.jar", len(with_pom), 0o644, with_pom
            ),
            "/usr/share/java/other.jar": FileEntry("/usr/share/java/other.jar", 3, 0o644, bare),
        }
    )
    links = {
        "/usr/share/maven-repo/org/mongodb/mongodb-driver/3.6.3/mongodb-driver-3.6.3.jar": (
            "../../../../../java/mongodb-driver-3.6.3.jar"
        ),
        "/usr/share/maven-repo/org/mongodb/mongodb-driver/debian/mongodb-driver-debian.jar": (
            "../../../../../java/other.jar"
        ),
        "/usr/share/maven-repo/org/yaml/snakeyaml/9.9/snakeyaml-9.9.jar": (
            "../../../../../java/snakeyaml.jar"
        ),
        "/usr/share/maven-repo/x/y/1.0/not-the-layout.jar": "../../../../java/other.jar",
    }
    for path, target in links.items():
        files.files[path] = FileEntry(path, 0, 0o777, None, target)
    result = CATALOGER.catalog(files, ParseEnv(None, files))
    got = {p.locations[0]: p for p in result.packages}
    driver = got["/usr/share/java/mongodb-driver-3.6.3.jar"]
    assert (driver.name, driver.version) == ("org.mongodb:mongodb-driver", "3.6.3")
    assert dict(driver.metadata)["evidence"] == "maven-repo"
    assert got["/usr/share/java/snakeyaml.jar"].version == "1.33"  # pom.properties comes first
    assert "/usr/share/java/other.jar" not in got  # `debian` and off-layout links say nothing
    assert [s.path for s in result.skipped] == ["/usr/share/java/other.jar"]


def test_spring_boot_fat_jar_nested_libs() -> None:
    lib_a = jar({}, poms=(("org.springframework", "spring-core", "6.1.2"),))
    lib_b = jar({}, poms=(("org.yaml", "snakeyaml", "2.2"),))
    fat = jar(
        {"BOOT-INF/lib/spring-core-6.1.2.jar": lib_a, "BOOT-INF/lib/snakeyaml-2.2.jar": lib_b},
        poms=(("com.example", "app", "1.0.0"),),
        stored=("BOOT-INF/lib/spring-core-6.1.2.jar", "BOOT-INF/lib/snakeyaml-2.2.jar"),
    )
    result = run({"/app/app.jar": fat})
    got = {p.name: p for p in result.packages}
    assert set(got) == {"com.example:app", "org.springframework:spring-core", "org.yaml:snakeyaml"}
    assert all(p.locations == ("/app/app.jar",) for p in result.packages)
    assert dict(got["org.yaml:snakeyaml"].metadata)["virtual_path"] == (
        "/app/app.jar!/BOOT-INF/lib/snakeyaml-2.2.jar"
    )
    assert "virtual_path" not in dict(got["com.example:app"].metadata)


def test_ear_of_war_of_jar() -> None:
    inner = jar({}, poms=(("g", "lib", "1"),))
    war = jar({"WEB-INF/lib/lib.jar": inner}, poms=(("g", "web", "2"),))
    ear = jar({"web.war": war}, poms=(("g", "ear", "3"),))
    assert {p.name for p in run({"/srv/app.ear": ear}).packages} == {"g:lib", "g:web", "g:ear"}


def test_nested_recursion_is_bounded() -> None:
    data = jar({}, poms=(("g", "level0", "1"),))
    for level in range(1, 8):
        data = jar({f"lib/l{level - 1}.jar": data}, poms=(("g", f"level{level}", "1"),))
    result = run({"/deep.jar": data}, JavaArchiveCataloger(Limits(max_depth=3)))
    assert {p.name for p in result.packages} == {f"g:level{i}" for i in (7, 6, 5, 4)}
    [skip] = result.skipped
    assert "nested deeper than 3" in skip.reason
    assert skip.path.count("!/") == 4


def test_zip_bomb_nested_archive_is_skipped_and_siblings_kept() -> None:
    # A nested "jar" of 16 MiB of zeros deflates to ~16 kB: reading it would cost 16 MiB.
    good = jar({}, poms=(("g", "good", "1"),))
    outer = jar({"lib/bomb.jar": bytes(16 << 20), "lib/good.jar": good})
    assert len(outer) < 200_000
    limits = Limits(max_nested_bytes=64 << 10, max_total_bytes=1 << 20)
    result = run({"/bomb.jar": outer}, JavaArchiveCataloger(limits))
    assert [p.name for p in result.packages] == ["g:good"]
    assert any("size budget" in s.reason for s in result.skipped)


def test_total_budget_shared_by_the_tree() -> None:
    rnd = random.Random(6)
    libs = {
        f"lib/l{i}.jar": jar({"pad": rnd.randbytes(300_000)}, poms=(("g", f"l{i}", "1"),))
        for i in range(6)
    }
    outer = jar(libs, stored=tuple(libs))
    result = run({"/o.jar": outer}, JavaArchiveCataloger(Limits(max_total_bytes=1_000_000)))
    assert 0 < len(result.packages) < 6
    assert any("size budget" in s.reason for s in result.skipped)


def test_lying_size_header_is_bounded() -> None:
    data = bytearray(jar({}, poms=(("g", "a", "1"),)))
    name = b"META-INF/maven/g/a/pom.properties"
    # Central directory entry: uncompressed size at +24 from "PK\x01\x02"; set it to 3 bytes.
    cd = data.find(b"PK\x01\x02")
    assert data[cd + 46 : cd + 46 + len(name)] == name
    data[cd + 24 : cd + 28] = (3).to_bytes(4, "little")
    result = run({"/lie.jar": bytes(data)})
    assert result.packages == ()
    assert result.skipped and all("/lie.jar" in s.path for s in result.skipped)


def test_too_many_entries_refused_before_indexing() -> None:
    data = jar({f"f{i}": b"" for i in range(50)})
    result = run({"/many.jar": data}, JavaArchiveCataloger(Limits(max_entries=10)))
    assert result.packages == ()
    assert "50 zip entries" in result.skipped[0].reason


def test_garbage_named_jar_is_skipped() -> None:
    result = run({"/x.jar": b"not a zip at all" * 10, "/y.war": b""})
    assert result.packages == ()
    assert {s.path for s in result.skipped} == {"/x.jar", "/y.war"}
    assert all("unreadable archive" in s.reason for s in result.skipped)


def test_truncated_jar_is_skipped() -> None:
    data = jar({"a": bytes(1000)}, poms=(("g", "a", "1"),))
    result = run({"/t.jar": data[: len(data) // 2]})
    assert result.packages == () and len(result.skipped) == 1


def test_globs_cover_the_archive_kinds() -> None:
    for ext in ("jar", "war", "ear", "par", "sar", "jpi", "hpi"):
        assert any(match_glob(g, f"/opt/app/lib/x.{ext}") for g in CATALOGER.globs)
    for other in ("/opt/x.tar", "/opt/x.jar.sha1", "/opt/x.api", "/opt/jar"):
        assert not any(match_glob(g, other) for g in CATALOGER.globs)


FUZZ_JAR = jar(
    {"META-INF/MANIFEST.MF": manifest(Implementation_Title="t", Implementation_Version="1")},
    poms=(("g", "a", "1"),),
)
FUZZ_FAT = jar(
    {"BOOT-INF/lib/a.jar": FUZZ_JAR}, poms=(("g", "fat", "2"),), stored=("BOOT-INF/lib/a.jar",)
)


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(FUZZ_FAT) - 1), st.integers(0, 255)), min_size=1, max_size=6
    )
)
def test_corrupted_archives_never_crash(flips: list[tuple[int, int]]) -> None:
    data = bytearray(FUZZ_FAT)
    for at, value in flips:
        data[at] = value
    result = run({"/f.jar": bytes(data)})
    assert all(p.name and p.version for p in result.packages)
