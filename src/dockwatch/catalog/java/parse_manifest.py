"""`META-INF/MANIFEST.MF` and `pom.properties`, the two kinds of evidence a jar carries.

MANIFEST.MF: https://docs.oracle.com/en/java/javase/21/docs/specs/jar/jar.html#jar-manifest
(`Name: value` lines wrapped at 72 bytes, continuation lines start with one space; the main
section ends at the first blank line). pom.properties: written by maven-archiver, a
java.util.Properties file (`key=value`, `key: value`, `#`/`!` comments), with groupId, artifactId
and version.
"""

from __future__ import annotations


def parse_manifest(data: bytes) -> dict[str, str]:
    """The main section's attributes (the per-entry sections describe files, not the jar)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    attrs: dict[str, str] = {}
    last: str | None = None
    for line in text.split("\n"):
        if not line:
            if attrs:
                break
            continue
        if line.startswith(" ") and last is not None:
            attrs[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if not sep:
            last = None
            continue
        last = key.strip()
        attrs[last] = value.strip()
    return attrs


def parse_properties(data: bytes) -> dict[str, str]:
    """A java.util.Properties file; enough of the syntax for what maven-archiver writes."""
    props: dict[str, str] = {}
    for raw in data.decode("latin-1").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut < 0:
            continue
        props[line[:cut].strip()] = line[cut + 1 :].strip()
    return props
