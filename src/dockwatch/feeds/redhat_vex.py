"""One Red Hat CSAF VEX document (https://security.access.redhat.com/data/csaf/v2/vex/) as an
Advisory for Red Hat Enterprise Linux.

Each VEX file is one CVE (https://redhatproductsecurity.github.io/security-data-guidelines/csaf-vex/).
Its `product_tree` names products (`product_name` branches, each with a CPE), components
(`product_version` branches with a purl: unversioned for unfixed components, versioned under an
`architecture` branch for fixed builds) and `relationships` that join them into the product ids
`vulnerabilities[].product_status` lists (`AppStream-9.4.0.Z.MAIN.EUS:python3.9-0:3.9.18-3.el9_4.5.src`,
`red_hat_enterprise_linux_9:tar`). A module build is a component of its module, itself a
component of the product, so a product id is resolved through the relationships to its root.

Which products count (the stream decision): an image's packages come from the release's main
BaseOS / AppStream / CRB repositories (UBI's repositories are subsets of them), whose CPE is
`cpe:/[ao]:redhat:enterprise_linux:<major>[::variant]`; product ids ending `.MAIN.EUS` carry that
CPE too (the z-stream shipped to both). EUS, AUS, E4S, TUS and ELS streams (`rhel_eus:9.2`, ...)
and every layered product are left out: their fixes are other builds, and mixing them would
call a main-stream package fixed by a lower EUS release.

Per (major, package) the entry says: `fixed` builds -> affected below the lowest fixed version
(one `fixed` event each); else `known_affected` -> affected with no fix, WONT_FIX when the
remediation says "Will not fix" or "Out of support scope" (the word is kept in the details);
`under_investigation` -> UNDETERMINED; `known_not_affected` -> NOT_AFFECTED. Packages are named
as Red Hat names them: source components by their source rpm, a module's packages as
`<module>:<stream>/<name>` (Red Hat's own spelling of module components, `nodejs:18/nodejs`).
A fixed binary rpm gets an entry of its own only when its version differs from every fixed
source build of the release (a subpackage versioned apart, `rubygem-rake 13.0.1-139…` from
`ruby 2.7.8-139…`); the others are found through their `SOURCERPM`, which keeps the database
small (a kernel fix lists some sixty binaries per architecture).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

from dockwatch import distros
from dockwatch.feeds import fields as f
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    AffectedStatus,
    Event,
    EventKind,
    Range,
    RangeType,
    Reference,
    Severity,
    SeverityType,
    cvss_severity,
    is_cve,
    is_cwe,
)
from dockwatch.value_class import frozen

SOURCE = "redhat"
ECOSYSTEM = "Red Hat"
_MAIN_CPE = re.compile(r"cpe:/[ao]:redhat:enterprise_linux:(\d{1,2})(?:\.\d+)?(?:::[a-z0-9_]+)?")
_RHSA = re.compile(r"RH[SBE]A-\d{4}:\d{1,7}")
_WONT_FIX = frozenset({"will not fix", "out of support scope"})
_SKIP_SUFFIXES = ("-debuginfo", "-debugsource")
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")
#: Red Hat's severity words -> qualitative ratings (https://access.redhat.com/security/updates/classification/)
IMPACT_RATINGS = {"low": "LOW", "moderate": "MEDIUM", "important": "HIGH", "critical": "CRITICAL"}


def ecosystem(major: str) -> str:
    """The advisory ecosystem of a RHEL major release: `Red Hat:9`."""
    return f"{ECOSYSTEM}:{major}"


@frozen
class Component:
    """A package a product id names, read from its purl."""

    name: str
    """Source or binary rpm name, prefixed `<module>:<stream>/` inside a module."""
    evr: str | None
    """`[epoch:]version-release` of a fixed build; None for an unversioned component."""
    arch: str | None
    """`src`, `noarch`, `x86_64`, ...; None when the purl has none."""


@dataclass(slots=True)
class _Slot:
    """What one (major, package) collects across the document."""

    fixed: set[str] = field(default_factory=set)
    affected_word: str | None = None
    investigating: bool = False
    not_affected: bool = False


def _purl_component(purl: str, product_name: str) -> Component | None:
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    if p.type != "rpm" or not p.name:
        return None
    q = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    name = p.name
    mod = q.get("rpmmod")
    if mod:
        parts = mod.split(":")
        if len(parts) >= 2:
            name = f"{parts[0]}:{parts[1]}/{name}"
    elif "/" in product_name and ":" in product_name.split("/", 1)[0]:
        name = product_name  # an unfixed module component spelled `nodejs:18/nodejs`
    evr = None
    if p.version:
        epoch = q.get("epoch")
        evr = f"{epoch}:{p.version}" if epoch and epoch != "0" else p.version
    return Component(name=name, evr=evr, arch=q.get("arch"))


def _walk(branches: object, products: dict[str, str], components: dict[str, Component]) -> None:
    """Collect CPEs of product names and components of product versions, at any depth."""
    for b in f.arr(branches, "branches"):
        node = f.obj(b, "branch")
        product = node.get("product")
        if isinstance(product, dict):
            pid = product.get("product_id")
            helper = product.get("product_identification_helper") or {}
            if isinstance(pid, str) and isinstance(helper, dict):
                cpe = helper.get("cpe")
                purl = helper.get("purl")
                if isinstance(cpe, str):
                    products[pid] = cpe
                elif isinstance(purl, str) and len(purl) < 1024:
                    comp = _purl_component(purl, str(product.get("name") or ""))
                    if comp is not None:
                        components[pid] = comp
        if node.get("branches"):
            _walk(node["branches"], products, components)


def _relationships(tree: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """full product id -> (component reference, parent reference)."""
    out: dict[str, tuple[str, str]] = {}
    for r in f.arr(tree.get("relationships"), "relationships"):
        rel = f.obj(r, "relationship")
        full = f.obj(rel.get("full_product_name"), "full_product_name").get("product_id")
        ref, parent = rel.get("product_reference"), rel.get("relates_to_product_reference")
        if isinstance(full, str) and isinstance(ref, str) and isinstance(parent, str):
            out[full] = (ref, parent)
    return out


@frozen
class ProductTree:
    """The resolved product tree of one document."""

    products: Mapping[str, str]
    """product id -> CPE."""
    components: Mapping[str, Component]
    """product id -> component."""
    relationships: Mapping[str, tuple[str, str]]
    """full product id -> (component reference, parent reference)."""

    def resolve(self, pid: str) -> tuple[str, Component] | None:
        """(major release, component) of a full product id on a RHEL main stream, else None."""
        rel = self.relationships.get(pid)
        if rel is None:
            return None
        comp = self.components.get(rel[0])
        parent = rel[1]
        for _ in range(4):  # module builds: component -> module -> product
            if parent in self.products or parent not in self.relationships:
                break
            parent = self.relationships[parent][1]
        cpe = self.products.get(parent)
        m = _MAIN_CPE.fullmatch(cpe) if cpe else None
        if comp is None or m is None or distros.by_ecosystem(ecosystem(m.group(1))) is None:
            return None  # not a main stream, or a release out of the table (RHEL 5, 6)
        return m.group(1), comp


def product_tree(doc: Mapping[str, Any]) -> ProductTree:
    """The document's product tree, resolved."""
    tree = f.obj(doc.get("product_tree"), "product_tree")
    products: dict[str, str] = {}
    components: dict[str, Component] = {}
    _walk(tree.get("branches"), products, components)
    return ProductTree(products, components, _relationships(tree))


def _remediation_words(vuln: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(product id -> RHSA id of its vendor fix, product id -> the word of a no-fix remedy)."""
    fixes: dict[str, str] = {}
    words: dict[str, str] = {}
    for r in f.arr(vuln.get("remediations"), "remediations"):
        rem = f.obj(r, "remediation")
        category = rem.get("category")
        ids = [p for p in f.arr(rem.get("product_ids"), "product_ids") if isinstance(p, str)]
        if category == "vendor_fix":
            m = _RHSA.search(str(rem.get("url") or ""))
            if m:
                for p in ids:
                    fixes.setdefault(p, m.group(0))
        elif category in ("no_fix_planned", "none_available", "no_fix_available"):
            word = f.text(rem.get("details"), "remediation.details", limit=256).strip()
            for p in ids:
                words[p] = word or "Affected"
    return fixes, words


def _statuses(
    tree: ProductTree, vuln: Mapping[str, Any]
) -> tuple[dict[tuple[str, str], _Slot], list[str]]:
    """Per (major, package) what the vulnerability's product_status says; the RHSA ids of the
    main-stream fixes."""
    status = f.obj(vuln.get("product_status") or {}, "product_status")
    fixes, words = _remediation_words(vuln)
    slots: dict[tuple[str, str], _Slot] = defaultdict(_Slot)
    rhsas: dict[str, None] = {}
    binaries: list[tuple[str, Component]] = []
    source_builds: set[tuple[str, str]] = set()
    for pid in f.arr(status.get("fixed"), "fixed"):
        found = tree.resolve(pid) if isinstance(pid, str) else None
        if found is None or found[1].evr is None or found[1].name.endswith(_SKIP_SUFFIXES):
            continue
        if pid in fixes:
            rhsas.setdefault(fixes[pid], None)
        major, comp = found
        if comp.arch == "src":
            slots[(major, comp.name)].fixed.add(found[1].evr)
            source_builds.add((major, found[1].evr))
        else:
            binaries.append((major, comp))
    for major, comp in binaries:
        # A binary with its source's version is found through its SOURCERPM; only a binary
        # with a version of its own (a subpackage versioned apart) needs its own entry.
        if comp.evr is not None and (major, comp.evr) not in source_builds:
            slots[(major, comp.name)].fixed.add(comp.evr)
    for key, state in (("known_affected", "affected"), ("under_investigation", "investigating")):
        for pid in f.arr(status.get(key), key):
            found = tree.resolve(pid) if isinstance(pid, str) else None
            if found is None:
                continue
            slot = slots[(found[0], found[1].name)]
            if state == "affected":
                slot.affected_word = words.get(pid, "Affected")
            else:
                slot.investigating = True
    for pid in f.arr(status.get("known_not_affected"), "known_not_affected"):
        found = tree.resolve(pid) if isinstance(pid, str) else None
        if found is not None:
            slots[(found[0], found[1].name)].not_affected = True
    return slots, list(rhsas)


def _affected(major: str, name: str, slot: _Slot) -> tuple[Affected, str | None]:
    """The entry of one (major, package), and the vendor's word when it is not fixed."""
    eco = ecosystem(major)
    if slot.fixed:
        events = (_INTRODUCED_0, *(Event(EventKind.FIXED, v) for v in sorted(slot.fixed)))
        return Affected(eco, name, (Range(RangeType.ECOSYSTEM, events),)), None
    unfixed = (Range(RangeType.ECOSYSTEM, (_INTRODUCED_0,)),)
    if slot.affected_word is not None:
        word = slot.affected_word
        state = AffectedStatus.WONT_FIX if word.lower() in _WONT_FIX else AffectedStatus.AFFECTED
        return Affected(eco, name, unfixed, status=state), word
    if slot.investigating:
        return Affected(eco, name, unfixed, status=AffectedStatus.UNDETERMINED), None
    return Affected(eco, name, status=AffectedStatus.NOT_AFFECTED), None


def _notes(vuln: Mapping[str, Any]) -> tuple[str, str]:
    """(description, Red Hat's statement)."""
    description = statement = ""
    for n in f.arr(vuln.get("notes"), "notes"):
        note = f.obj(n, "note")
        text = f.text(note.get("text"), "note.text")
        if note.get("category") == "description":
            description = text
        elif note.get("category") == "other" and note.get("title") == "Statement":
            statement = text
    return description, statement


def _severities(doc: Mapping[str, Any], vuln: Mapping[str, Any]) -> tuple[Severity, ...]:
    out: list[Severity] = []
    word = None
    for t in f.arr(vuln.get("threats"), "threats"):
        threat = f.obj(t, "threat")
        if threat.get("category") == "impact" and not threat.get("product_ids"):
            word = f.text(threat.get("details"), "threat.details", limit=32)
    if not word:
        agg = doc.get("document", {}).get("aggregate_severity")
        word = agg.get("text") if isinstance(agg, dict) else None
    if isinstance(word, str) and word.lower() in IMPACT_RATINGS:
        out.append(
            Severity(
                SeverityType.VENDOR, word.capitalize(), SOURCE, rating=IMPACT_RATINGS[word.lower()]
            )
        )
    for s in f.arr(vuln.get("scores"), "scores"):
        v3 = f.obj(s, "score").get("cvss_v3")
        vector = v3.get("vectorString") if isinstance(v3, dict) else None
        if isinstance(vector, str) and len(vector) < 256:
            sev = cvss_severity(SeverityType.CVSS_V3, vector, SOURCE)
            if sev not in out:
                out.append(sev)
    return tuple(out)


def parse_document(doc: object) -> Advisory | None:
    """The Advisory of one decoded VEX document; None when it names no RHEL main-stream package.

    Raises `fields.BadRecord` for a malformed document.
    """
    root = f.obj(doc, "document root")
    meta = f.obj(root.get("document"), "document")
    if meta.get("category") != "csaf_vex":
        raise f.BadRecord(f"not a CSAF VEX document (category {str(meta.get('category'))[:32]!r})")
    tracking = f.obj(meta.get("tracking"), "document.tracking")
    vulns = f.arr(root.get("vulnerabilities"), "vulnerabilities")
    if not vulns:
        raise f.BadRecord("no vulnerabilities")
    vuln = f.obj(vulns[0], "vulnerabilities[0]")
    cve = f.ident(vuln.get("cve") or tracking.get("id"), "vulnerabilities[0].cve")
    tree = product_tree(root)
    slots, rhsas = _statuses(tree, vuln)
    if not slots:
        return None
    affected: list[Affected] = []
    words: list[str] = []
    for (major, name), slot in sorted(slots.items(), key=lambda kv: (int(kv[0][0]), kv[0][1])):
        entry, word = _affected(major, name, slot)
        affected.append(entry)
        if word:
            words.append(f"Red Hat Enterprise Linux {major}, {name}: {word}")
    description, statement = _notes(vuln)
    details = "\n\n".join(p for p in (description, statement, "\n".join(words)) if p)
    refs = [Reference("ADVISORY", f"https://access.redhat.com/errata/{r}") for r in rhsas]
    refs.append(Reference("WEB", f"https://access.redhat.com/security/cve/{cve}"))
    cwe = vuln.get("cwe")
    cwe_id = cwe.get("id") if isinstance(cwe, dict) else None
    return Advisory(
        id=AdvisoryID(cve),
        source=SOURCE,
        related=tuple(rhsas),
        summary=f.text(vuln.get("title") or meta.get("title"), "title", limit=4096),
        details=details,
        published=f.timestamp(tracking.get("initial_release_date"), "initial_release_date"),
        modified=f.timestamp(tracking.get("current_release_date"), "current_release_date"),
        references=tuple(refs),
        cwe_ids=(cwe_id,) if isinstance(cwe_id, str) and is_cwe(cwe_id) else (),
        severities=_severities(root, vuln),
        affected=tuple(affected),
    )


def csv_rows(lines: Iterable[str]) -> list[tuple[str, str]]:
    """(path, time) of `changes.csv` / `deletions.csv` lines (`"2024/cve-2024-0002.json","<time>"`),
    for well-formed VEX paths only."""
    out = []
    for line in lines:
        path, _, when = line.partition(",")
        path, when = path.strip().strip('"'), when.strip().strip('"')
        stem = path.rsplit("/", 1)[-1].removesuffix(".json").upper()
        if is_cve(stem) and path.endswith(".json") and ".." not in path and when:
            out.append((path, when))
    return out


def cve_of_path(path: str) -> str:
    """`2024/cve-2024-0002.json` -> `CVE-2024-0002`."""
    return path.rsplit("/", 1)[-1].removesuffix(".json").upper()
