"""OVAL 5 definition documents (https://oval.mitre.org/language/version5.11/), read safely.

Vendors publish rpm advisories as OVAL: Oracle's ELSA files, Microsoft's Azure Linux / CBL-Mariner
files, SUSE's and Red Hat's streams. A document holds `definitions` (metadata and a criteria tree
of AND/OR nodes whose leaves name tests), then `tests` (an object and states), `objects` (the rpm
name) and `states` (`evr` with an operation such as `less than`, a `version` or `arch` pattern,
a `signature_keyid`). This module reads that structure and nothing vendor-specific; each feed
decides what its gates mean (`Oracle Linux 9 is installed`, `... arch is aarch64`).

The XML is hostile input: it is parsed with defusedxml's iterparse (no DTD, no entity
declaration, no external reference: an entity bomb is refused before it expands), the byte
count read (after bz2 / gzip decompression) is capped, and each element is dropped once read, so
memory holds the compact values, not the tree.
"""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from dockwatch.feeds.feed import FeedFormatError
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

MAX_TEXT = 64 << 10
"""Longer titles and descriptions are cut to this many characters."""
MAX_DEPTH = 64
"""Deeper criteria trees are refused (real ones are under 10 levels)."""
EVR_OPERATIONS = frozenset({"less than", "less than or equal"})
"""The `evr` comparisons a package check can carry."""


class OvalUnsupported(ValueError):
    """A definition uses OVAL this reader does not evaluate (negation, a missing test)."""


@frozen
class Reference:
    """One `metadata/reference`."""

    source: str
    """`CVE`, `elsa`, `RHSA`, ..."""
    ref_id: str
    """The id (`CVE-2024-1234`, `ELSA-2024-0001`)."""
    ref_url: str
    """Its link, possibly empty."""


@frozen
class Criterion:
    """A leaf of a criteria tree: one test (or an extended definition)."""

    test_ref: str
    """The test id (for `extend_definition`, the definition id)."""
    comment: str
    """The vendor's sentence for the test."""
    negate: bool = False
    """OVAL `negate="true"`."""
    extends: bool = False
    """An `extend_definition` rather than a test."""


@frozen
class Criteria:
    """An AND/OR node."""

    operator: str
    """`AND` or `OR` (OVAL's default is AND; ONE and XOR are refused when evaluated)."""
    children: tuple[Criteria | Criterion, ...]
    """Nodes and leaves in document order."""
    negate: bool = False
    """OVAL `negate="true"`."""


@frozen
class Definition:
    """One definition's metadata and criteria."""

    id: str
    """`oval:com.oracle.elsa:def:20240001`."""
    cls: str
    """`patch`, `vulnerability`, ..."""
    title: str
    description: str
    platforms: tuple[str, ...]
    references: tuple[Reference, ...]
    severity: str | None
    """The vendor's word (`IMPORTANT`, `High`), wherever the vendor put it under metadata."""
    issued: str | None
    """`advisory/issued/@date` (Oracle) or `advisory_date` (Microsoft), verbatim."""
    cves: tuple[str, ...]
    """`advisory/cve` texts (Oracle lists the CVEs there as well as in references)."""
    extra: tuple[tuple[str, str], ...]
    """Other simple metadata children (`patchable`, `advisory_id`), as (tag, text)."""
    criteria: Criteria | None


@frozen
class State:
    """The parts of an rpminfo state (or any state) a feed can use."""

    id: str
    evr: tuple[str, str] | None = None
    """(operation, value) of `evr`."""
    version: tuple[str, str] | None = None
    """(operation, value) of `version` (`pattern match`, `^9`)."""
    arch: tuple[str, str] | None = None
    """(operation, value) of `arch`."""
    signature_keyid: str | None = None


@frozen
class Test:
    """A test with its object's name and its states resolved."""

    id: str
    kind: str
    """The element's local name: `rpminfo_test`, `textfilecontent54_test`, ..."""
    comment: str
    object_name: str | None
    """The rpminfo object's `name` (None for other objects)."""
    states: tuple[State, ...]

    @property
    def evr(self) -> tuple[str, str] | None:
        """The (operation, value) of the first state with an `evr` comparison, if any."""
        return next((s.evr for s in self.states if s.evr is not None), None)


@dataclass(slots=True)
class Document:
    """Every definition of one file, and its tests resolved."""

    product: str = ""
    """`generator/product_name` (`Oracle Errata System`, `Azure Linux OVAL Definition ...`)."""
    definitions: list[Definition] = field(default_factory=list)
    tests: dict[str, Test] = field(default_factory=dict)


@frozen
class PackageCheck:
    """One path of a criteria tree down to a package version test: "`name` is earlier than
    `evr`", and the other tests that must hold with it (its AND-ancestors' leaves)."""

    name: str
    """The rpm name the test looks at."""
    operation: str
    """`less than` (a fix exists) or `less than or equal` (affected up to it, no fix)."""
    evr: str
    """`[epoch:]version-release`."""
    test: Test
    """The version test itself (its states may add a `version` pattern: a kernel stream)."""
    gates: tuple[tuple[Test, ...], ...]
    """Each group must hold; a group of several is "any of them" (an OR of gates)."""


# --------------------------------------------------------------------------- reading


class _Capped(io.RawIOBase):
    """A read-only stream that fails once more than `limit` bytes came through."""

    def __init__(self, inner: io.BufferedIOBase, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise ValueError(f"document exceeds {self.limit} bytes")
        buffer[: len(data)] = data
        return len(data)


def _open(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as fh:
        magic = fh.read(3)
    if magic == b"BZh":
        return bz2.open(path, "rb")
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return path.open("rb")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el: ET.Element | None) -> str:
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())[:MAX_TEXT]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _criteria(el: ET.Element, depth: int = 0) -> Criteria:
    if depth > MAX_DEPTH:
        raise ValueError(f"criteria nested deeper than {MAX_DEPTH}")
    children: list[Criteria | Criterion] = []
    for c in el:
        tag = _local(c.tag)
        negate = c.get("negate", "false").lower() == "true"
        if tag == "criteria":
            children.append(_criteria(c, depth + 1))
        elif tag == "criterion":
            children.append(Criterion(c.get("test_ref", ""), c.get("comment", ""), negate))
        elif tag == "extend_definition":
            ref = c.get("definition_ref", "")
            children.append(Criterion(ref, c.get("comment", ""), negate, extends=True))
    negate = el.get("negate", "false").lower() == "true"
    return Criteria(el.get("operator", "AND").upper(), tuple(children), negate)


def _definition(el: ET.Element) -> Definition:
    meta = _child(el, "metadata")
    refs: list[Reference] = []
    platforms: list[str] = []
    cves: list[str] = []
    extra: list[tuple[str, str]] = []
    severity = issued = None
    title = description = ""
    if meta is not None:
        for c in meta.iter():
            tag = _local(c.tag)
            if tag == "reference":
                refs.append(
                    Reference(c.get("source", ""), c.get("ref_id", ""), c.get("ref_url", ""))
                )
            elif tag == "platform":
                platforms.append(_text(c))
            elif tag == "severity" and severity is None:
                severity = _text(c) or None
            elif tag == "issued":
                issued = c.get("date") or issued
            elif tag == "advisory_date":
                issued = _text(c) or issued
            elif tag == "cve":
                cves.append(_text(c))
            elif tag in ("patchable", "advisory_id"):
                extra.append((tag, _text(c)))
        title = _text(_child(meta, "title"))
        description = _text(_child(meta, "description"))
    crit = _child(el, "criteria")
    return Definition(
        id=el.get("id", ""),
        cls=el.get("class", ""),
        title=title,
        description=description,
        platforms=tuple(platforms),
        references=tuple(refs),
        severity=severity,
        issued=issued,
        cves=tuple(cves),
        extra=tuple(extra),
        criteria=_criteria(crit) if crit is not None else None,
    )


def _state(el: ET.Element) -> State:
    parts: dict[str, tuple[str, str]] = {}
    keyid = None
    for c in el:
        tag = _local(c.tag)
        if tag in ("evr", "version", "arch"):
            parts[tag] = (c.get("operation", "equals"), _text(c))
        elif tag == "signature_keyid":
            keyid = _text(c)
    return State(el.get("id", ""), parts.get("evr"), parts.get("version"), parts.get("arch"), keyid)


_SECTIONS = frozenset({"definitions", "tests", "objects", "states"})


def read(path: Path, *, feed: str, max_bytes: int) -> Document:
    """Every definition and test of an OVAL file (plain, bz2 or gzip).

    Raises FeedFormatError when the file is not well-formed XML, declares a DTD or entities, is
    larger than `max_bytes` once decompressed, or is not an OVAL definitions document.
    """
    doc = Document()
    raw_tests: dict[str, tuple[str, str, str, tuple[str, ...]]] = {}
    objects: dict[str, str] = {}
    states: dict[str, State] = {}
    stack: list[ET.Element] = []
    section = ""
    try:
        with _open(path) as fh:
            source = io.BufferedReader(_Capped(fh, max_bytes))
            for event, el in iterparse(
                source,
                events=("start", "end"),
                forbid_dtd=True,
                forbid_entities=True,
                forbid_external=True,
            ):
                tag = _local(el.tag)
                if event == "start":
                    if not stack and tag != "oval_definitions":
                        raise ValueError(f"not an OVAL definitions document (root <{tag}>)")
                    if len(stack) == 1:
                        section = tag
                    stack.append(el)
                    continue
                stack.pop()
                if len(stack) == 1:
                    section = ""
                if len(stack) != 2:
                    if len(stack) == 1 and tag == "generator":
                        doc.product = _text(_child(el, "product_name"))
                    continue
                if section not in _SECTIONS:
                    continue
                # a direct child of a section: read it, then drop it from the tree
                if section == "definitions" and tag == "definition":
                    doc.definitions.append(_definition(el))
                elif section == "tests":
                    obj = _child(el, "object")
                    refs = tuple(s.get("state_ref", "") for s in el if _local(s.tag) == "state")
                    raw_tests[el.get("id", "")] = (
                        tag,
                        el.get("comment", ""),
                        obj.get("object_ref", "") if obj is not None else "",
                        refs,
                    )
                elif section == "objects":
                    name = _child(el, "name")
                    if name is not None:
                        objects[el.get("id", "")] = _text(name)
                elif section == "states":
                    st = _state(el)
                    states[st.id] = st
                stack[-1].remove(el)
    except (ET.ParseError, DefusedXmlException, ValueError, OSError, EOFError) as exc:
        raise FeedFormatError(feed, f"unusable OVAL document: {exc}", path=str(path)) from exc
    for tid, (kind, comment, obj_ref, state_refs) in raw_tests.items():
        doc.tests[tid] = Test(
            tid,
            kind,
            comment,
            objects.get(obj_ref),
            tuple(states[s] for s in state_refs if s in states),
        )
    return doc


# --------------------------------------------------------------------------- evaluating

_PACKAGE_TEST_KINDS = frozenset({"rpminfo_test"})


def is_package_test(test: Test) -> bool:
    """An rpminfo test comparing a named rpm's evr (`less than`, `less than or equal`)."""
    evr = test.evr
    return (
        test.kind in _PACKAGE_TEST_KINDS
        and test.object_name is not None
        and evr is not None
        and evr[0] in EVR_OPERATIONS
    )


def package_checks(definition: Definition, tests: dict[str, Test]) -> Iterator[PackageCheck]:
    """Every package version test of a definition with the gates on its path.

    An AND node's non-package leaves are gates for everything under it; an OR node's children
    are alternatives, and an OR node holding gates only (`Oracle Linux 8 is installed` OR
    `... 9 ...`) is one group of alternative gates for its AND siblings. Raises OvalUnsupported
    for negation, an unknown test, or an operator other than AND/OR.
    """
    if definition.criteria is None:
        return
    yield from _walk(definition.criteria, tests, ())


def _resolve(leaf: Criterion, tests: dict[str, Test]) -> Test | None:
    if leaf.negate:
        raise OvalUnsupported(f"negated criterion {leaf.comment or leaf.test_ref!r}")
    if leaf.extends:
        return None  # an extended definition (an inventory check such as "RHEL is installed")
    test = tests.get(leaf.test_ref)
    if test is None:
        raise OvalUnsupported(f"criterion names unknown test {leaf.test_ref!r}")
    return test


def _gate_only(node: Criteria, tests: dict[str, Test]) -> tuple[Test, ...] | None:
    """The alternatives of an OR node made of gate leaves only, else None."""
    if node.operator != "OR" or node.negate:
        return None
    out: list[Test] = []
    for child in node.children:
        if not isinstance(child, Criterion):
            return None
        test = _resolve(child, tests)
        if test is None or is_package_test(test):
            return None
        out.append(test)
    return tuple(out) or None


def _walk(
    node: Criteria, tests: dict[str, Test], gates: tuple[tuple[Test, ...], ...]
) -> Iterator[PackageCheck]:
    if node.negate:
        raise OvalUnsupported("negated criteria")
    if node.operator not in ("AND", "OR"):
        raise OvalUnsupported(f"criteria operator {node.operator}")
    leaves: list[Test] = []
    subtrees: list[Criteria] = []
    here = gates
    for child in node.children:
        if isinstance(child, Criterion):
            test = _resolve(child, tests)
            if test is not None:
                leaves.append(test)
        else:
            subtrees.append(child)
    if node.operator == "AND":
        own: tuple[tuple[Test, ...], ...] = tuple((t,) for t in leaves if not is_package_test(t))
        for sub in list(subtrees):
            alternatives = _gate_only(sub, tests)
            if alternatives is not None:
                own += (alternatives,)
                subtrees.remove(sub)
        here = gates + own
    for test in leaves:
        if is_package_test(test):
            evr = test.evr
            assert evr is not None and test.object_name is not None
            yield PackageCheck(test.object_name, evr[0], evr[1], test, here)
    for sub in subtrees:
        yield from _walk(sub, tests, here)
