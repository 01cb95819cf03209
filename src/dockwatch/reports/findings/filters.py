"""Narrowing Inspector-shaped findings: `--ignore-unfixed` and ignore rules.

Both work on packages: a finding keeps the packages that stay, with its fix availability, title,
remediation text and evidence recomputed for them. An ignore rule that covers only some of a
finding's packages splits it: the rest stays ACTIVE under the finding's ARN, the ignored part
becomes a SUPPRESSED finding of its own (its ARN derived from the original's), so every
(vulnerability, package) pair has exactly one status.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from dockwatch.reports.common import fixed_version, packages, related, vulnerability_id

from .ignore import IgnoreRule


def fix_available(pkgs: Sequence[Mapping[str, Any]]) -> str:
    """YES when every package has a fix, PARTIAL when some do, NO when none does."""
    fixed = sum(1 for p in pkgs if fixed_version(p) is not None)
    return "YES" if pkgs and fixed == len(pkgs) else "PARTIAL" if fixed else "NO"


def subset(
    finding: Mapping[str, Any], keep: Sequence[Mapping[str, Any]], *, arn: str | None = None
) -> dict[str, Any]:
    """A copy of `finding` with only the packages `keep` (and a new ARN when given)."""
    out = copy.deepcopy(dict(finding))
    vuln = vulnerability_id(finding)
    details = out.setdefault("packageVulnerabilityDetails", {})
    details["vulnerablePackages"] = [copy.deepcopy(dict(p)) for p in keep]
    out["fixAvailable"] = fix_available(keep)
    title = str(finding.get("title") or "")
    if title.startswith(f"{vuln} - "):
        out["title"] = f"{vuln} - " + ", ".join(sorted({str(p.get("name")) for p in keep}))
    texts = [str(p["remediation"]) for p in keep if p.get("remediation")]
    if texts:
        out["remediation"] = {"recommendation": {"text": "; ".join(texts)}}
    wanted = {f"/{p.get('name')}@{p.get('version')}" for p in keep}
    if "evidence" in out:
        out["evidence"] = [
            e for e in out["evidence"] if any(str(e.get("package", "")).endswith(w) for w in wanted)
        ]
    if arn is not None:
        out["findingArn"] = arn
    return out


def drop_unfixed(findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`--ignore-unfixed`: packages without a fixed version go, and findings left empty."""
    out = []
    for f in findings:
        keep = [p for p in packages(f) if fixed_version(p) is not None]
        if keep:
            out.append(subset(f, keep))
    return out


def derived_arn(arn: str, tag: str) -> str:
    """An ARN for a part split off a finding (`.../finding/ID` -> `.../finding/NEWID`)."""
    head, sep, tail = arn.rpartition("/")
    new = hashlib.sha256(f"{tail}\0{tag}".encode()).hexdigest()[:32]
    return f"{head}{sep}{new}" if sep else new


def _combined(rules: Sequence[IgnoreRule]) -> dict[str, Any]:
    first = rules[0].suppression()
    if len(rules) > 1:
        first["reason"] = "; ".join(dict.fromkeys(r.reason for r in rules))
        first["origin"] = "; ".join(dict.fromkeys(r.origin for r in rules))
    return first


def suppress(
    findings: Sequence[Mapping[str, Any]], rules: Sequence[IgnoreRule]
) -> list[dict[str, Any]]:
    """ACTIVE findings (or their packages) that a rule covers become SUPPRESSED, carrying a
    `suppression` object (reason, origin, VEX state, justification)."""
    by_id: dict[str, list[IgnoreRule]] = {}
    for r in rules:
        for i in r.ids:
            by_id.setdefault(i, []).append(r)
    out: list[dict[str, Any]] = []
    for f in findings:
        if str(f.get("status") or "ACTIVE") != "ACTIVE":
            out.append(dict(f))
            continue
        ids = [vulnerability_id(f), *related(f)]
        candidates = list(dict.fromkeys(r for i in ids for r in by_id.get(i.upper(), ())))
        if not candidates:
            out.append(dict(f))
            continue
        kept: list[Mapping[str, Any]] = []
        ignored: list[Mapping[str, Any]] = []
        used: list[IgnoreRule] = []
        for p in packages(f):
            rule = next(
                (r for r in candidates if not r.packages or any(s.matches(p) for s in r.packages)),
                None,
            )
            if rule is None:
                kept.append(p)
            else:
                ignored.append(p)
                if rule not in used:
                    used.append(rule)
        if not ignored:
            out.append(dict(f))
            continue
        arn = str(f.get("findingArn") or "")
        if kept:
            out.append(subset(f, kept))
            part = subset(f, ignored, arn=derived_arn(arn, "suppressed"))
        else:
            part = copy.deepcopy(dict(f))
        part["status"] = "SUPPRESSED"
        part["suppression"] = _combined(used)
        out.append(part)
    return out
