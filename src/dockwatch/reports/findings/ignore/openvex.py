"""OpenVEX documents: statements whose status is `not_affected` or `fixed` become rules."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .rules import (
    IgnoreFile,
    IgnoreFileError,
    IgnoreRule,
    ImageIdentity,
    PackageSelector,
    identifiers_of,
    names_image,
    package_purl,
)

logger = logging.getLogger(__name__)

#: OpenVEX justification -> CycloneDX analysis justification
OPENVEX_JUSTIFICATIONS = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
OPENVEX_SUPPRESS = {"not_affected", "fixed"}
OPENVEX_KNOWN = OPENVEX_SUPPRESS | {"affected", "under_investigation"}


def _selector_of(value: object) -> PackageSelector | None:
    identifiers = list(identifiers_of(value))
    found = package_purl(identifiers)
    if found is None and isinstance(value, str) and value.strip() and ":" not in value:
        found = PackageSelector.parse(value)  # a bare package name
    return found


def parse_openvex(doc: Mapping[str, Any], source: str, image: ImageIdentity) -> IgnoreFile:
    statements = doc.get("statements")
    if not isinstance(statements, list):
        raise IgnoreFileError(source, "`statements` must be a list")
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    other_images = 0
    for number, st in enumerate(statements, 1):
        where = f"statement {number}"
        if not isinstance(st, Mapping):
            raise IgnoreFileError(source, f"{where} is not an object")
        vuln = st.get("vulnerability")
        ids: set[str] = set()
        if isinstance(vuln, str):
            ids.add(vuln)
        elif isinstance(vuln, Mapping):
            ids.update(v for v in (vuln.get("name"), vuln.get("@id")) if isinstance(v, str))
            ids.update(a for a in vuln.get("aliases") or () if isinstance(a, str))
        ids = {i.strip().upper() for i in ids if i.strip()}
        if not ids:
            raise IgnoreFileError(source, f"{where} names no vulnerability")
        status = str(st.get("status") or "")
        if status not in OPENVEX_KNOWN:
            warnings.append(f"ignore file {source}: {where} has unknown status {status!r}; skipped")
            continue
        if status not in OPENVEX_SUPPRESS:
            continue
        products = st.get("products") or []
        if not isinstance(products, list):
            raise IgnoreFileError(source, f"{where}: `products` must be a list")
        statement_subs = st.get("subcomponents") or []  # OpenVEX 0.0.x kept them here
        whole_image = False
        selectors: list[PackageSelector] = []
        for product in products:
            identifiers = list(identifiers_of(product))
            subs = product.get("subcomponents") if isinstance(product, Mapping) else None
            subs = list(subs or []) + (
                list(statement_subs) if isinstance(statement_subs, list) else []
            )
            if names_image(identifiers, image):
                chosen = [s for s in (_selector_of(x) for x in subs) if s is not None]
                if chosen:
                    selectors.extend(chosen)
                else:
                    whole_image = True
                continue
            selector = package_purl(identifiers)
            if selector is not None:
                selectors.append(selector)
        if not whole_image and not selectors:
            other_images += 1
            continue
        justification = OPENVEX_JUSTIFICATIONS.get(str(st.get("justification") or ""))
        reason = next(
            (
                str(st[k]).strip()
                for k in ("impact_statement", "status_notes", "action_statement")
                if isinstance(st.get(k), str) and st[k].strip()
            ),
            f"OpenVEX: {status}"
            + (f" ({st['justification']})" if isinstance(st.get("justification"), str) else ""),
        )
        rules.append(
            IgnoreRule(
                frozenset(ids),
                () if whole_image else tuple(selectors),
                reason,
                f"OpenVEX statement {number}",
                state=status,
                justification=justification,
            )
        )
    if other_images:
        logger.info("%s: %d statements are about other products", source, other_images)
    return IgnoreFile("OpenVEX", tuple(rules), tuple(warnings))
