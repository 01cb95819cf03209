"""The pom.xml cataloger on POMs written after the POM reference (https://maven.apache.org/pom.html):
Debian's Maven cannot resolve offline without a local repository, so the expected versions are
worked out here by hand from the POM rules (properties, parent, dependencyManagement)."""

from __future__ import annotations

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, LayerFiles, ParseEnv
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.catalog.java import CATALOGER, POM_CATALOGER
from dockwatch.model.digest import Digest
from tests.unit.catalog.java.jars import jar

NS = 'xmlns="http://maven.apache.org/POM/4.0.0"'

PARENT = f"""<?xml version="1.0" encoding="UTF-8"?>
<project {NS}>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>acme-parent</artifactId>
  <version>3.1.0</version>
  <packaging>pom</packaging>
  <properties>
    <jackson.version>2.15.2</jackson.version>
    <slf4j.version>2.0.7</slf4j.version>
  </properties>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.slf4j</groupId>
        <artifactId>slf4j-api</artifactId>
        <version>${{slf4j.version}}</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
</project>
""".encode()

CHILD = f"""<?xml version="1.0" encoding="UTF-8"?>
<project {NS}>
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.acme</groupId>
    <artifactId>acme-parent</artifactId>
    <version>3.1.0</version>
  </parent>
  <artifactId>acme-service</artifactId>
  <properties>
    <slf4j.version>2.0.9</slf4j.version>
    <snake.major>2</snake.major>
    <snake.version>${{snake.major}}.2</snake.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>com.fasterxml.jackson.core</groupId>
      <artifactId>jackson-databind</artifactId>
      <version>${{jackson.version}}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
    </dependency>
    <dependency>
      <groupId>org.yaml</groupId>
      <artifactId>snakeyaml</artifactId>
      <version>${{snake.version}}</version>
      <scope>runtime</scope>
    </dependency>
    <dependency>
      <groupId>com.acme</groupId>
      <artifactId>acme-model</artifactId>
      <version>${{project.version}}</version>
    </dependency>
    <dependency>
      <groupId>junit</groupId>
      <artifactId>junit</artifactId>
      <version>4.13.2</version>
      <scope>test</scope>
    </dependency>
    <dependency>
      <groupId>org.remote</groupId>
      <artifactId>from-a-bom</artifactId>
      <version>${{remote.version}}</version>
    </dependency>
    <dependency>
      <groupId>org.ranged</groupId>
      <artifactId>ranged</artifactId>
      <version>[1.0,2.0)</version>
    </dependency>
  </dependencies>
</project>
""".encode()


def run(entries: dict[str, bytes]) -> CatalogResult:
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in entries.items()})
    return POM_CATALOGER.catalog(files, ParseEnv(None, files))


def test_properties_parent_and_dependency_management() -> None:
    result = run({"/src/pom.xml": PARENT, "/src/service/pom.xml": CHILD})
    child = {
        (p.name, p.version) for p in result.packages if p.locations == ("/src/service/pom.xml",)
    }
    assert child == {
        ("com.fasterxml.jackson.core:jackson-databind", "2.15.2"),  # parent's property
        ("org.slf4j:slf4j-api", "2.0.9"),  # parent's management, child's property wins
        ("org.yaml:snakeyaml", "2.2"),  # nested property
        ("com.acme:acme-model", "3.1.0"),  # project.version inherited from the parent
    }
    reasons = sorted(s.reason for s in result.skipped)
    assert len(reasons) == 2
    assert reasons[0].startswith("org.ranged:ranged: version [1.0,2.0)")
    assert reasons[1].startswith("org.remote:from-a-bom: version ${remote.version}")
    assert {p.package_manager for p in result.packages} == {"POM"}
    snake = next(p for p in result.packages if p.name == "org.yaml:snakeyaml")
    assert snake.purl == "pkg:maven/org.yaml/snakeyaml@2.2"
    assert dict(snake.metadata)["scope"] == "runtime"


def test_without_its_parent_in_the_layer_inherited_versions_are_unresolved() -> None:
    result = run({"/src/service/pom.xml": CHILD})
    assert {(p.name, p.version) for p in result.packages} == {
        ("org.yaml:snakeyaml", "2.2"),
        ("com.acme:acme-model", "3.1.0"),  # the <parent> element's own version
    }
    unresolved = {s.reason.split(":")[0] + ":" + s.reason.split(":")[1] for s in result.skipped}
    assert unresolved == {"com.fasterxml.jackson.core:jackson-databind", "org.slf4j:slf4j-api",
                          "org.remote:from-a-bom", "org.ranged:ranged"}  # fmt: skip


def test_entities_and_broken_xml_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><project>&a;</project>'
    result = run({"/a/pom.xml": bomb, "/b/pom.xml": b"<project><dependencies>"})
    assert result.packages == ()
    assert [s.path for s in result.skipped] == ["/a/pom.xml", "/b/pom.xml"]


def test_the_jar_wins_over_the_pom_declaring_it() -> None:
    layer = {
        "/app/pom.xml": PARENT.replace(b"<packaging>pom</packaging>", b"<dependencies><dependency>"
            b"<groupId>org.yaml</groupId><artifactId>snakeyaml</artifactId><version>2.2</version>"
            b"</dependency></dependencies>"),
        "/app/lib/snakeyaml-2.2.jar": jar({}, (("org.yaml", "snakeyaml", "2.2"),)),
    }  # fmt: skip
    files = LayerFiles({p: FileEntry(p, len(d), 0o644, d) for p, d in layer.items()})
    env = ParseEnv(None, files)
    results = {c.name: c.catalog(files, env) for c in (CATALOGER, POM_CATALOGER)}
    [pkg] = coalesce([LayerCatalog(Digest("sha256:" + "3" * 64), results)])
    assert (pkg.name, pkg.package_manager) == ("org.yaml:snakeyaml", "JAR")
    assert pkg.locations == ("/app/lib/snakeyaml-2.2.jar", "/app/pom.xml")
