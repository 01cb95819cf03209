"""CycloneDX VEX documents: vulnerabilities whose analysis state clears them become rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockwatch.value_class import frozen

from .rules import (
    IgnoreFile,
    IgnoreFileError,
    IgnoreRule,
    ImageIdentity,
    PackageSelector,
    names_image,
    package_purl,
)

MAX_DEPTH = 32
"""Component nesting followed in a CycloneDX document."""

CDX_SUPPRESS = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
CDX_JUSTIFICATIONS = {
    "code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
    "requires_environment", "protected_by_compiler", "protected_at_runtime",
    "protected_at_perimeter", "protected_by_mitigating_control",
}  # fmt: skip


@frozen
class _Ref:
    purl: str | None
    subject: bool
    version: str | None


def _walk_components(doc: Mapping[str, Any]) -> dict[str, _Ref]:
    refs: dict[str, _Ref] = {}
    meta = doc.get("metadata")
    stack: list[tuple[Any, int, bool]] = []
    if isinstance(meta, Mapping) and isinstance(meta.get("component"), Mapping):
        stack.append((meta["component"], 0, True))
    stack.extend((c, 0, False) for c in doc.get("components") or () if isinstance(c, Mapping))
    while stack:
        comp, depth, subject = stack.pop()
        ref = comp.get("bom-ref")
        if isinstance(ref, str):
            purl = comp.get("purl") if isinstance(comp.get("purl"), str) else None
            version = comp.get("version") if isinstance(comp.get("version"), str) else None
            refs.setdefault(ref, _Ref(purl, subject, version))
        if depth < MAX_DEPTH:
            stack.extend(
                (c, depth + 1, False)
                for c in comp.get("components") or ()
                if isinstance(c, Mapping)
            )
    return refs


def _subject_is_image(ref: _Ref, image: ImageIdentity) -> bool:
    """A document's subject is taken to be this image unless its purl or digest say otherwise."""
    identifiers = [x for x in (ref.purl, ref.version) if x]
    if not identifiers:
        return True
    if any(x.startswith("sha256:") or x.lower().startswith("pkg:oci/") for x in identifiers):
        return names_image(identifiers, image)
    return True


def parse_cyclonedx_vex(doc: Mapping[str, Any], source: str, image: ImageIdentity) -> IgnoreFile:
    vulnerabilities = doc.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):
        raise IgnoreFileError(source, "a CycloneDX VEX needs a `vulnerabilities` list")
    refs = _walk_components(doc)
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    for number, v in enumerate(vulnerabilities, 1):
        where = f"vulnerability {number}"
        if not isinstance(v, Mapping):
            raise IgnoreFileError(source, f"{where} is not an object")
        ids = {v["id"]} if isinstance(v.get("id"), str) else set()
        ids.update(
            r["id"]
            for r in v.get("references") or ()
            if isinstance(r, Mapping) and isinstance(r.get("id"), str)
        )
        ids = {i.strip().upper() for i in ids if i.strip()}
        if not ids:
            raise IgnoreFileError(source, f"{where} has no `id`")
        analysis = v.get("analysis")
        state = str(analysis.get("state") or "") if isinstance(analysis, Mapping) else ""
        if state not in CDX_SUPPRESS:
            continue
        assert isinstance(analysis, Mapping)
        affects = v.get("affects") or []
        whole_image = not affects
        selectors: list[PackageSelector] = []
        for target in affects if isinstance(affects, list) else []:
            ref = target.get("ref") if isinstance(target, Mapping) else None
            if not isinstance(ref, str):
                continue
            key = ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
            found = refs.get(key)
            if found is None and key.startswith("pkg:"):
                found = _Ref(key, False, None)
            if found is None:
                warnings.append(
                    f"ignore file {source}: {where} ({sorted(ids)[0]}) affects {ref!r}, "
                    "which names no component of the document; skipped"
                )
                continue
            if found.subject or (found.purl or "").lower().startswith("pkg:oci/"):
                if _subject_is_image(found, image):
                    whole_image = True
                continue
            selector = package_purl([found.purl] if found.purl else [])
            if selector is not None:
                selectors.append(selector)
        if not whole_image and not selectors:
            continue
        justification = str(analysis.get("justification") or "")
        detail = analysis.get("detail")
        rules.append(
            IgnoreRule(
                frozenset(ids),
                () if whole_image else tuple(selectors),
                detail.strip()
                if isinstance(detail, str) and detail.strip()
                else f"CycloneDX VEX: {state}",
                f"CycloneDX VEX {where}",
                state=state,
                justification=justification if justification in CDX_JUSTIFICATIONS else None,
            )
        )
    return IgnoreFile("CycloneDX VEX", tuple(rules), tuple(warnings))
