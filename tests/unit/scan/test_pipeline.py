"""The scan pipeline's evaluate step: matches become drafts keyed by vulnerability (the CVE when
an advisory names one), optionally scoped to some vulnerabilities."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from dockwatch.app import build
from dockwatch.config import Settings
from dockwatch.findings.build import build as find_build
from dockwatch.model.digest import Digest
from dockwatch.model.package import Package
from dockwatch.scan.pipeline import Drafter, evaluate
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb

TODAY = date(2026, 11, 26)
L1, L2 = Digest("sha256:" + "1" * 64), Digest("sha256:" + "2" * 64)


def _osv(vid: str, fixed: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "zeta"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }


def test_drafts_by_vulnerability_and_scope(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        records = [
            _osv("GHSA-aaaa-bbbb-cccc", "2.0", aliases=["CVE-2026-0001"]),
            _osv("PYSEC-2026-2", "1.5"),
            _osv("PYSEC-2026-3", "0.9"),  # fixed before the installed version
        ]
        for rec in records:
            (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
        import_paths(VulnDb(services.store, services.clock), [folder])
        zeta = Package("zeta", "1.0", "python", "pkg:pypi/zeta@1.0")
        index = services.scanner.index
        evaluation = evaluate([zeta], None, index, services.store, today=TODAY)
        assert sorted(evaluation.drafts) == ["CVE-2026-0001", "PYSEC-2026-2"]
        assert {(m.advisory_id, m.fixed_version) for m in evaluation.report.matches} == {
            ("GHSA-aaaa-bbbb-cccc", "2.0"),
            ("PYSEC-2026-2", "1.5"),
        }
        related = evaluation.drafts["CVE-2026-0001"].detail.related_vulnerabilities
        assert "GHSA-aaaa-bbbb-cccc" in related
        plain = evaluate([zeta], None, index, services.store, today=TODAY, enrich=False)
        assert sorted(plain.drafts) == sorted(evaluation.drafts)
        with services.store.read() as uow:
            drafter = Drafter(uow.vulns)
            scoped = drafter.drafts(evaluation.report.matches, frozenset({"PYSEC-2026-2"}))
            assert list(scoped) == ["PYSEC-2026-2"]
            assert drafter.drafts([], frozenset({"PYSEC-2026-2"})) == {}
    finally:
        services.close()


def test_package_sets_sharing_matches_share_drafts(tmp_path: Path) -> None:
    """Drafts of package sets that share matches are built once, one object each, and equal
    what `findings.build` makes of each set on its own."""
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        records = [
            _osv("GHSA-aaaa-bbbb-cccc", "2.0", aliases=["CVE-2026-0001"]),
            _osv("PYSEC-2026-2", "1.5"),
            {**_osv("PYSEC-2026-4", "3.0"), "aliases": ["CVE-2026-0001"]},
        ]
        for rec in records:
            (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
        import_paths(VulnDb(services.store, services.clock), [folder])
        index = services.scanner.index
        old = Package("zeta", "1.0", "python", "pkg:pypi/zeta@1.0", layer_digest=L1)
        other = Package("zeta", "1.0", "python", "pkg:pypi/zeta@1.0", layer_digest=L2)
        matches = {
            p.layer_digest: list(evaluate([p], None, index, services.store, today=TODAY)
                                 .report.matches)
            for p in (old, other)
        }  # fmt: skip
        sets = [matches[L1], matches[L1] + matches[L2]]
        with services.store.read() as uow:
            drafter = Drafter(uow.vulns)
            got = [drafter.drafts(s) for s in sets]
            fresh = [Drafter(uow.vulns) for _ in sets]
            for one, made in zip(sets, got, strict=True):
                drafter.read_contents((m.source, m.advisory_id) for m in one)
                enrichment = uow.vulns.enrichment_for(list(made))
                expected = find_build(one, drafter.contents, enrichment)
                assert made == expected
            assert got[0]["PYSEC-2026-2"] is not got[1]["PYSEC-2026-2"]  # more packages
            again = drafter.drafts(sets[0])
            assert all(again[v] is got[0][v] for v in got[0])
            assert [f.drafts(s) for f, s in zip(fresh, sets, strict=True)] == got
    finally:
        services.close()


def test_scoped_drafts_are_the_full_drafts_in_scope(tmp_path: Path) -> None:
    """Whatever the scope (an erratum's CVEs among them) and whether the enrichment was read
    ahead, a scoped draft equals `findings.build` over every match, kept for that scope."""
    services = build(Settings(data_dir=tmp_path / "data"))
    try:
        folder = tmp_path / "osv"
        folder.mkdir()
        records = [
            _osv("GHSA-aaaa-bbbb-cccc", "2.0", aliases=["CVE-2026-0001"]),
            _osv("PYSEC-2026-2", "1.5"),
            _osv("ALSA-2026-1", "1.8", related=["CVE-2026-0003", "CVE-2026-0001"]),
            {**_osv("PYSEC-2026-4", "3.0"), "aliases": ["CVE-2026-0001"]},
        ]
        for rec in records:
            (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
        import_paths(VulnDb(services.store, services.clock), [folder])
        zeta = Package("zeta", "1.0", "python", "pkg:pypi/zeta@1.0", layer_digest=L1)
        matches = evaluate([zeta], None, services.scanner.index, services.store, today=TODAY)
        assert len(matches.report.matches) == 4
        every = ["CVE-2026-0001", "CVE-2026-0003", "PYSEC-2026-2", "PYSEC-9999-9"]
        scopes = [frozenset(every[:n]) for n in range(len(every) + 1)]
        scopes += [frozenset({"CVE-2026-0003"}), frozenset({"PYSEC-2026-2", "CVE-2026-0003"})]
        with services.store.read() as uow:
            oracle = Drafter(uow.vulns)
            oracle.read_contents((m.source, m.advisory_id) for m in matches.report.matches)
            built = find_build(
                matches.report.matches, oracle.contents, uow.vulns.enrichment_for(every)
            )
            assert sorted(built) == every[:3]
            ahead = Drafter(uow.vulns)
            ahead.read_enrichment(every)
            for scope in scopes:
                expected = {v: d for v, d in built.items() if v in scope}
                assert Drafter(uow.vulns).drafts(matches.report.matches, scope) == expected
                assert ahead.drafts(matches.report.matches, scope) == expected
                plain = Drafter(uow.vulns).drafts(matches.report.matches, scope, enrich=False)
                assert sorted(plain) == sorted(expected)
            assert Drafter(uow.vulns).drafts(matches.report.matches) == built
    finally:
        services.close()
