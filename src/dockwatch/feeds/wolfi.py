"""Wolfi and Chainguard security databases (`https://packages.wolfi.dev/os/security.json`,
`https://packages.cgr.dev/chainguard/security.json`).

The shape is Alpine's secdb without a branch (both distributions are rolling):
`{"apkurl", "archs", "reponame", "urlprefix", "packages": [{"pkg": {"name", "secfixes":
{"<fixed version>": ["CVE-…", …]}}}]}` (the wolfi-secdb specification). `wolfictl` writes each
advisory of wolfi-dev/advisories into it: a `fixed` event under its version, a false-positive
determination under `0` (never affected). Names are origin (source) package names, versions apk's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dockwatch.feeds import fields as f
from dockwatch.feeds.alpine import split_entry
from dockwatch.feeds.download import SingleFileFeed, Verify, verify_json
from dockwatch.feeds.feed import FeedFormatError, FeedItem, FeedKind, ParseProblem
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    AffectedStatus,
    Event,
    EventKind,
    Range,
    RangeType,
)

logger = logging.getLogger(__name__)

WOLFI_URL = "https://packages.wolfi.dev/os/security.json"
CHAINGUARD_URL = "https://packages.cgr.dev/chainguard/security.json"
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")


def ecosystem_of(doc: dict[str, object]) -> str:
    """`Chainguard` for Chainguard's repository (urlprefix on cgr.dev), else `Wolfi`."""
    prefix = doc.get("urlprefix")
    return "Chainguard" if isinstance(prefix, str) and "cgr.dev" in prefix else "Wolfi"


def parse_document(doc: object, where: str, ecosystem: str | None = None) -> Iterator[FeedItem]:
    """One Advisory per vulnerability id in a decoded security database."""
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), list):
        raise FeedFormatError("wolfi", "not a security database (no `packages` array)", path=where)
    eco = ecosystem or ecosystem_of(doc)
    source = eco.lower()
    acc: dict[str, dict[str, set[str]]] = {}  # id -> package -> fixed versions
    for i, item in enumerate(doc["packages"]):
        try:
            pkg = f.obj(f.obj(item, f"packages[{i}]").get("pkg"), f"packages[{i}].pkg")
            name = f.ident(pkg.get("name"), f"packages[{i}].pkg.name")
            for ver, ids in f.obj(pkg.get("secfixes") or {}, f"{name}.secfixes").items():
                fixed = f.version(ver, f"{name}.secfixes")
                for line in f.arr(ids, f"{name}.secfixes[{fixed}]"):
                    text = f.text(line, f"{name}.secfixes[{fixed}][]", limit=512)
                    for vuln_id, _aliases in split_entry(text):
                        vid = f.ident(vuln_id, f"{name}.secfixes id")
                        acc.setdefault(vid, {}).setdefault(name, set()).add(fixed)
        except f.BadRecord as e:
            logger.warning("%s: skipped %s: %s", source, where, e.reason, extra={"feed": source})
            yield ParseProblem(feed=source, where=f"{where}:packages[{i}]", reason=e.reason)
    for vid in sorted(acc):
        affected = []
        for name, versions in sorted(acc[vid].items()):
            real = sorted(v for v in versions if v != "0")
            if real:
                events = (_INTRODUCED_0, *(Event(EventKind.FIXED, v) for v in real))
                affected.append(Affected(eco, name, (Range(RangeType.ECOSYSTEM, events),)))
            else:
                affected.append(Affected(eco, name, status=AffectedStatus.NOT_AFFECTED))
        yield Advisory(id=AdvisoryID(vid), source=source, affected=tuple(affected))


def parse_file(
    path: Path, max_bytes: int = 1 << 30, ecosystem: str | None = None
) -> Iterator[FeedItem]:
    """The advisories of one security.json file."""
    yield from parse_document(f.load_json_file(path, max_bytes, "wolfi"), str(path), ecosystem)


@dataclass
class WolfiFeed(SingleFileFeed):
    """Wolfi's security database."""

    url: str = WOLFI_URL
    name: str = "wolfi"
    kind: FeedKind = "vulnerability"
    ecosystem: str = "Wolfi"
    filename: ClassVar[str] = "security.json"
    verify: ClassVar[Verify] = staticmethod(verify_json)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(path, self.policy.max_bytes, self.ecosystem)


@dataclass
class ChainguardFeed(WolfiFeed):
    """Chainguard's security database (the same shape)."""

    url: str = CHAINGUARD_URL
    name: str = "chainguard"
    ecosystem: str = "Chainguard"
