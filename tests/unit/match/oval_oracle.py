"""An OVAL evaluator for the tests, sharing no code with dockwatch's feeds: it evaluates each
definition's criteria tree on a described system, as an OVAL interpreter would (rpminfo tests:
the object's rpm installed, `version` / `arch` patterns as regular-expression searches, `evr`
compared by rpm's own `labelCompare`, signature tests taken as true), and says which package
tests made a definition true. The fixtures are trusted files, so the standard library's parser
reads them whole."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.unit.versions.rpm_corpus import label_compare


@dataclass(frozen=True)
class System:
    """What the evaluated system has: its release (`9.4`), architecture, rpms (name -> evr)."""

    release: str
    arch: str
    rpms: dict[str, str]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass
class _Test:
    name: str | None
    states: list[dict[str, tuple[str, str]]]


def _load(path: Path) -> tuple[list[ET.Element], dict[str, _Test]]:
    root = ET.parse(path).getroot()
    objects = {
        o.get("id"): next(c.text for c in o if _local(c.tag) == "name")
        for sec in root
        if _local(sec.tag) == "objects"
        for o in sec
    }
    states = {
        s.get("id"): {_local(c.tag): (c.get("operation", "equals"), c.text or "") for c in s}
        for sec in root
        if _local(sec.tag) == "states"
        for s in sec
    }
    tests = {}
    for sec in root:
        if _local(sec.tag) != "tests":
            continue
        for t in sec:
            obj = next(c.get("object_ref") for c in t if _local(c.tag) == "object")
            refs = [c.get("state_ref") for c in t if _local(c.tag) == "state"]
            tests[t.get("id", "")] = _Test(objects.get(obj), [states[r] for r in refs])
    definitions = [d for sec in root if _local(sec.tag) == "definitions" for d in sec]
    return definitions, tests


def evaluate(path: Path, system: System) -> dict[tuple[str, str], str | None]:
    """(definition title's first word or CVE, rpm name) -> the `evr` of every true package test
    of every true definition (None for `less than or equal`: no fix)."""
    definitions, tests = _load(path)
    pairs = sorted(
        {
            (system.rpms[t.name], st["evr"][1])
            for t in tests.values()
            if t.name in system.rpms
            for st in t.states
            if "evr" in st
        }
    )
    cmp = dict(zip(pairs, label_compare(pairs), strict=True)) if pairs else {}

    def test_true(test: _Test) -> bool:
        if test.name == "oraclelinux-release":
            installed: str | None = system.release
        else:
            installed = system.rpms.get(test.name or "")
        if installed is None:
            return False
        for st in test.states:
            for field, (op, value) in st.items():
                if field == "version" and not re.search(value, _version_of(installed)):
                    return False
                if field == "arch" and not re.search(value, system.arch):
                    return False
                if field == "evr":
                    c = cmp[(installed, value)]
                    if (op == "less than" and c >= 0) or (op == "less than or equal" and c > 0):
                        return False
        return True

    found: dict[tuple[str, str], str | None] = {}
    for d in definitions:
        title = next(x for x in d.iter() if _local(x.tag) == "title").text or ""
        key = m.group(0) if (m := re.search(r"(ELSA|CVE)-\d{4}-\d+", title)) else title
        crit = next(c for c in d if _local(c.tag) == "criteria")

        def walk(node: ET.Element) -> tuple[bool, list[tuple[str, str, str]]]:
            """Whether the node holds, and the package tests that hold inside its true parts."""
            results: list[tuple[bool, list[tuple[str, str, str]]]] = []
            for c in node:
                if _local(c.tag) == "criteria":
                    results.append(walk(c))
                elif _local(c.tag) == "criterion":
                    t = tests[c.get("test_ref", "")]
                    ok = test_true(t)
                    evr = next((st["evr"] for st in t.states if "evr" in st), None)
                    hit = [(t.name, evr[0], evr[1])] if ok and evr and t.name else []
                    results.append((ok, hit))
            if node.get("operator", "AND") == "AND":
                ok = all(r[0] for r in results)
            else:
                ok = any(r[0] for r in results)
            return ok, [h for r in results if r[0] for h in r[1]] if ok else []

        ok, hits = walk(crit)
        for name, op, evr in hits if ok else []:
            fix = None if op == "less than or equal" else evr.removeprefix("0:")
            found[(key, name)] = fix
    return found


def _version_of(evr: str) -> str:
    """The `version` field of `[epoch:]version-release` (what an OVAL version pattern sees)."""
    s = evr.split(":", 1)[-1]
    return s.rpartition("-")[0] or s
