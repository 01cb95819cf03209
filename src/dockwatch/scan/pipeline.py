"""The scan pipeline: `catalogue` an image into an inventory, `evaluate` packages into
finding drafts.

Scan on push (`ScanService.scan`), delta rescans (`rescan.apply_delta`) and `dockwatch scan`
(`cli/scan.py`) all go through here; only the trigger and what happens to the drafts differ.
Advisory contents and enrichment (KEV, EPSS, NVD scores) are read in bulk and kept by a
`Drafter`, so a rescan turning thousands of package sets into drafts reads each advisory once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dockwatch.catalog.service import ImageCataloguer, Inventory, Progress
from dockwatch.findings.build import FindingDraft, build, vulnerability_id
from dockwatch.image.sources import BlobReader, ResolvedImage
from dockwatch.match.matcher import Match, MatchReport
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.unit_of_work import Store
from dockwatch.storage.vuln_repo import VulnRepo


def catalogue(
    cataloguer: ImageCataloguer,
    reader: BlobReader,
    image: ResolvedImage,
    progress: Progress | None = None,
) -> Inventory:
    """Every package of `image`, each layer read at most once (the cataloguer's cache)."""
    return cataloguer.catalog(reader, image, progress)


class Drafter:
    """Matches -> finding drafts, with advisory contents and enrichment read in bulk and kept."""

    def __init__(self, vulns: VulnRepo) -> None:
        self.vulns = vulns
        self.contents: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._vuln: dict[tuple[str, str], str] = {}
        self._enrichment: dict[str, Mapping[str, Mapping[str, Any]]] = {}

    def read_contents(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the contents of the (source, advisory id) keys not read yet."""
        unknown = [k for k in set(keys) if k not in self.contents]
        if unknown:
            self.contents.update(self.vulns.advisory_contents(unknown))

    def vulnerability(self, key: tuple[str, str]) -> str | None:
        """The vulnerability id of a (source, advisory id) whose content was read."""
        found = self._vuln.get(key)
        if found is None and key in self.contents:
            found = self._vuln[key] = vulnerability_id(self.contents[key])
        return found

    def drafts(
        self,
        matches: Sequence[Match],
        scope: frozenset[str] | None = None,
        *,
        enrich: bool = True,
    ) -> dict[str, FindingDraft]:
        """Drafts by vulnerability id for one image's matches; with `scope`, only for those
        vulnerabilities; without `enrich`, from the advisories alone (ECR basic scanning)."""
        self.read_contents((m.source, m.advisory_id) for m in matches)
        kept: list[Match] = []
        vulns: set[str] = set()
        for m in matches:
            vuln = self.vulnerability((m.source, m.advisory_id))
            if vuln is not None and (scope is None or vuln in scope):
                kept.append(m)
                vulns.add(vuln)
        if not enrich:
            return build(kept, self.contents, {})
        unknown = [v for v in vulns if v not in self._enrichment]
        if unknown:
            got = self.vulns.enrichment_for(unknown)
            for v in unknown:
                self._enrichment[v] = got.get(v, {})
        return build(kept, self.contents, {v: self._enrichment[v] for v in vulns})


@dataclass(frozen=True, slots=True)
class Evaluation:
    """An inventory matched and turned into finding drafts."""

    report: MatchReport
    drafts: dict[str, FindingDraft]


def evaluate(
    packages: Sequence[Package],
    distro: Distro | None,
    index: MatchIndex,
    store: Store,
    *,
    today: date,
    enrich: bool = True,
) -> Evaluation:
    """Match `packages` on `distro` and build the finding drafts of what they match."""
    report = match(list(packages), distro, index, today=today)
    with store.read() as uow:
        drafts = Drafter(uow.vulns).drafts(report.matches, enrich=enrich)
    return Evaluation(report, drafts)
