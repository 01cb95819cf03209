"""The scan pipeline's evaluate step: matches become drafts keyed by vulnerability (the CVE when
an advisory names one), optionally scoped to some vulnerabilities."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from dockwatch.app import build
from dockwatch.config import Settings
from dockwatch.model.package import Package
from dockwatch.scan.pipeline import Drafter, evaluate
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb

TODAY = date(2026, 11, 26)


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
