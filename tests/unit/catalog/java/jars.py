"""Java archives built in code, laid out as maven-archiver and Spring Boot write them.

pom.properties as maven-archiver writes it (`PomPropertiesUtil`: a comment line, then
`artifactId`, `groupId`, `version`); MANIFEST.MF per the JAR File Specification
(https://docs.oracle.com/en/java/javase/21/docs/specs/jar/jar.html); Spring Boot's executable jar
nests dependency jars uncompressed under `BOOT-INF/lib/`
(https://docs.spring.io/spring-boot/specification/executable-jar/nested-jars.html).
"""

from __future__ import annotations

import io
import zipfile


def pom_properties(group: str, artifact: str, version: str) -> bytes:
    return (
        f"#Created by Apache Maven 3.8.6\nartifactId={artifact}\ngroupId={group}\n"
        f"version={version}\n"
    ).encode()


def manifest(**attrs: str) -> bytes:
    lines = ["Manifest-Version: 1.0"] + [f"{k.replace('_', '-')}: {v}" for k, v in attrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def jar(
    members: dict[str, bytes],
    poms: tuple[tuple[str, str, str], ...] = (),
    stored: tuple[str, ...] = (),
) -> bytes:
    """A zip with `members`, plus one pom.properties per (group, artifact, version)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            kind = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=kind)
        for g, a, v in poms:
            zf.writestr(f"META-INF/maven/{g}/{a}/pom.properties", pom_properties(g, a, v))
    return buf.getvalue()
