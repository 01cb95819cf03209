"""The scan pipeline: `catalogue` an image into an inventory, `evaluate` packages into
finding drafts.

Scan on push (`ScanService.scan`), delta rescans (`rescan.apply_delta`) and `dockwatch scan`
(`cli/scan.py`) all go through here; only the trigger and what happens to the drafts differ.
Advisory contents and enrichment (KEV, EPSS, NVD scores) are read in bulk and kept by a
`Drafter`, so a rescan turning thousands of package sets into drafts reads each advisory once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from dockwatch.catalog.service import ImageCataloguer, Inventory, Progress
from dockwatch.findings.build import FindingDraft, build, vulnerability_ids
from dockwatch.image.sources import BlobReader, ResolvedImage
from dockwatch.match.matcher import Match, MatchReport
from dockwatch.match.service import MatchIndex, match
from dockwatch.model.distro import Distro
from dockwatch.model.package import Package
from dockwatch.storage.unit_of_work import Store
from dockwatch.storage.vuln_repo import VulnRepo
from dockwatch.value_class import frozen


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
        self._vuln: dict[tuple[str, str], tuple[str, ...]] = {}
        self._enrichment: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._built: dict[tuple[str, tuple[int, ...]], tuple[FindingDraft, list[Match]]] = {}
        """Drafts by (vulnerability, the matches filed under it): a draft depends on nothing
        else, and package sets sharing packages (a rescan's thousands of images on a few bases)
        share their matches, so each draft is built once and is one object (its detail is
        serialized once by the writer). The matches are kept with it so their ids stay theirs.
        """

    def read_contents(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the contents of the (source, advisory id) keys not read yet."""
        unknown = [k for k in set(keys) if k not in self.contents]
        if unknown:
            self.contents.update(self.vulns.advisory_contents(unknown))

    def read_enrichment(self, vulnerabilities: Iterable[str]) -> None:
        """Read the enrichment of the vulnerabilities not read yet (a rescan reads every
        vulnerability in its scope at once: one query per image read them 269 queries at a
        time in a 1,000-advisory update)."""
        unknown = sorted({v for v in vulnerabilities if v not in self._enrichment})
        if unknown:
            got = self.vulns.enrichment_for(unknown)
            for v in unknown:
                self._enrichment[v] = got.get(v, {})

    def vulnerability(self, key: tuple[str, str]) -> str | None:
        """The (first) vulnerability id of a (source, advisory id) whose content was read."""
        found = self.vulnerabilities(key)
        return found[0] if found else None

    def vulnerabilities(self, key: tuple[str, str]) -> tuple[str, ...]:
        """Every vulnerability id a (source, advisory id) whose content was read is filed under
        (each CVE of an erratum); empty when its content was not read."""
        found = self._vuln.get(key)
        if found is None:
            if key not in self.contents:
                return ()
            found = self._vuln[key] = vulnerability_ids(self.contents[key])
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
        if not enrich:
            kept = [m for m in matches if self._in(m, scope)]
            return _in_scope(build(kept, self.contents, {}), scope)
        # one pass: the matches filed under each vulnerability in scope (a match filed under
        # several, an erratum's CVEs, is in each of their groups)
        groups: dict[str, list[Match]] = {}
        known_ids = self._vuln
        for m in matches:
            key = (m.source, m.advisory_id)
            ids = known_ids.get(key)
            if ids is None:
                ids = self.vulnerabilities(key)
            for v in ids:
                if scope is None or v in scope:
                    groups.setdefault(v, []).append(m)
        self.read_enrichment(groups)
        out: dict[str, FindingDraft] = {}
        for v, group in groups.items():
            built = (v, tuple(map(id, group)))
            known = self._built.get(built)
            if known is None:
                draft = build(group, self.contents, {v: self._enrichment[v]})[v]
                known = self._built[built] = (draft, group)
            out[v] = known[0]
        return out

    def _in(self, m: Match, scope: frozenset[str] | None) -> bool:
        """Is a match filed under a vulnerability in `scope` (any, without one)?"""
        ids = self.vulnerabilities((m.source, m.advisory_id))
        return bool(ids) and (scope is None or any(v in scope for v in ids))


def _in_scope(
    drafts: dict[str, FindingDraft], scope: frozenset[str] | None
) -> dict[str, FindingDraft]:
    """The drafts of `scope` only (an erratum kept for one of its CVEs drafts them all)."""
    return drafts if scope is None else {v: d for v, d in drafts.items() if v in scope}


@frozen
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
