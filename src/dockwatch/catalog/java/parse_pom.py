"""`pom.xml`: the dependencies a Maven project declares, with the versions it can resolve alone.

Format: https://maven.apache.org/pom.html (POM 4.0.0). A dependency is `groupId`, `artifactId`,
`version`, `scope`; a version may be a `${property}` from `<properties>`, a built-in
(`${project.version}`, `${project.parent.version}`, ...), or absent and given by a
`<dependencyManagement>` entry of the same or a parent POM. The parent is read when it is in the
same layer (`<relativePath>`, default `../pom.xml`) and its coordinates match; nothing is
fetched, so a version that only a remote parent or an imported BOM would give is reported as
unresolved, as is a version range (`[1.0,2.0)`, not a pin). `test` scope is not shipped in an
image and is not reported.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockwatch.catalog.xml_doc import parse_xml, text_of
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

_PROPERTY = re.compile(r"\$\{([^}]+)\}")
#: parent chains and nested properties are short; these caps stop cycles
MAX_PARENTS = 8
MAX_EXPANSIONS = 16


@frozen
class Declared:
    """One dependency as resolved from the POM (version None when it could not be)."""

    group: str
    artifact: str
    version: str | None
    scope: str
    raw_version: str | None
    """What the POM wrote (`${jackson.version}`), for the unresolved case."""


@dataclass(slots=True)
class Pom:
    """What resolution needs from one POM file."""

    group: str | None
    artifact: str | None
    version: str | None
    parent: tuple[str | None, str | None, str | None, str] | None
    """(groupId, artifactId, version, relativePath) of `<parent>`."""
    properties: dict[str, str] = field(default_factory=dict)
    managed: dict[str, str] = field(default_factory=dict)
    """`group:artifact` -> version (raw) from `<dependencyManagement>`."""
    dependencies: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    """(group, artifact, raw version, scope) from `<dependencies>`."""


def read_pom(path: str, data: bytes) -> Pom:
    """One POM's own declarations, nothing inherited yet."""
    root = parse_xml(path, data)
    parent_el = root.find("parent")
    parent = None
    if parent_el is not None:
        relative = text_of(parent_el, "relativePath")
        parent = (
            text_of(parent_el, "groupId"),
            text_of(parent_el, "artifactId"),
            text_of(parent_el, "version"),
            "../pom.xml" if relative is None else relative,
        )
    pom = Pom(
        text_of(root, "groupId") or (parent[0] if parent else None),
        text_of(root, "artifactId"),
        text_of(root, "version") or (parent[2] if parent else None),
        parent,
    )
    props = root.find("properties")
    if props is not None:
        for prop in props:
            if isinstance(prop.tag, str):
                pom.properties[prop.tag] = (prop.text or "").strip()
    for dep in _dependencies(root.find("dependencyManagement")):
        group, artifact, version, _scope = dep
        if version is not None:
            pom.managed.setdefault(f"{group}:{artifact}", version)
    pom.dependencies = list(_dependencies(root))
    return pom


def _dependencies(owner: ET.Element | None) -> list[tuple[str, str, str | None, str]]:
    out: list[tuple[str, str, str | None, str]] = []
    deps = owner.find("dependencies") if owner is not None else None
    if deps is None:
        return out
    for dep in deps.findall("dependency"):
        group, artifact = text_of(dep, "groupId"), text_of(dep, "artifactId")
        if group and artifact:
            out.append(
                (group, artifact, text_of(dep, "version"), text_of(dep, "scope") or "compile")
            )
    return out


Lookup = Callable[[str], bytes | None]
"""Bytes of another file of the same layer by absolute path, or None."""


def declared(path: str, data: bytes, lookup: Lookup) -> list[Declared]:
    """The POM's non-test dependencies, versions resolved within the layer where possible."""
    pom = read_pom(path, data)
    chain = [pom, *_parents(path, pom, lookup)]
    props: dict[str, str] = {}
    managed: dict[str, str] = {}
    for p in reversed(chain):  # the farthest parent first: children override
        props.update(p.properties)
        managed.update(p.managed)
    for key, value in (("project.groupId", pom.group), ("project.artifactId", pom.artifact),
                       ("project.version", pom.version), ("pom.version", pom.version),
                       ("version", pom.version)):  # fmt: skip
        if value is not None:
            props.setdefault(key, value)
    if pom.parent is not None:
        for key, value in (("project.parent.groupId", pom.parent[0]),
                           ("project.parent.version", pom.parent[2])):  # fmt: skip
            if value is not None:
                props.setdefault(key, value)
    out: list[Declared] = []
    for group, artifact, raw, scope in pom.dependencies:
        if scope == "test":
            continue
        group = expand(group, props) or group
        artifact = expand(artifact, props) or artifact
        if raw is None:
            raw = managed.get(f"{group}:{artifact}")
        version = expand(raw, props) if raw is not None else None
        if version is not None and version[:1] in "[(":
            version = None  # a range: no single version is declared
        out.append(Declared(group, artifact, version, scope, raw))
    return out


def expand(value: str, props: dict[str, str]) -> str | None:
    """`value` with every `${name}` replaced; None when one cannot be resolved."""
    for _ in range(MAX_EXPANSIONS):
        if "${" not in value:
            return value
        missing = False

        def sub(m: re.Match[str]) -> str:
            nonlocal missing
            if m.group(1) in props:
                return props[m.group(1)]
            missing = True
            return m.group(0)

        value = _PROPERTY.sub(sub, value)
        if missing:
            return None
    return None


def _parents(path: str, pom: Pom, lookup: Lookup) -> list[Pom]:
    """The parent chain found in the layer, nearest first, stopping at the first one missing,
    with other coordinates than declared, or already seen."""
    out: list[Pom] = []
    seen = {path}
    current, at = pom, path
    for _ in range(MAX_PARENTS):
        if current.parent is None:
            break
        group, artifact, _version, relative = current.parent
        target = posixpath.normpath(posixpath.join(posixpath.dirname(at), relative))
        if not target.endswith(".xml"):
            target = posixpath.join(target, "pom.xml")
        data = lookup(target)
        if target in seen or data is None:
            break
        parent = read_pom(target, data)
        if parent.artifact != artifact or (group is not None and parent.group != group):
            break
        out.append(parent)
        seen.add(target)
        current, at = parent, target
    return out
