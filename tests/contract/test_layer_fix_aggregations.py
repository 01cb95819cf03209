"""IMAGE_LAYER aggregations filtered on fix and exploit availability on both backends.

The layer rollup is keyed by fix and exploit availability (findings/12), so IMAGE_LAYER with
`fixAvailable` / `exploitAvailable` criteria (with or without criteria choosing images, over
several statuses) sums its rows. Each answer, paged to the end, must equal a recount of the
findings as Inspector shapes them (`findings_db.shaped`: fix, exploit, status, severity, the
image and its tags, the layers of the vulnerable packages), before and after an update of the
fix availability of some findings (SQLite's triggers, PostgreSQL's count log and fold)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, random_findings

Finding = dict[str, Any]


def _eq(*values: str) -> list[dict[str, str]]:
    return [{"comparison": "EQUALS", "value": v} for v in values]


def _not(value: str) -> list[dict[str, str]]:
    return [{"comparison": "NOT_EQUALS", "value": value}]


def _image(f: Finding) -> dict[str, Any]:
    details: dict[str, Any] = f["resources"][0]["details"]["awsEcrContainerImage"]
    return details


CASES: list[tuple[dict[str, Any], Callable[[Finding], bool]]] = [
    (
        {"fixAvailable": _eq("YES")},
        lambda f: f["status"] == "ACTIVE" and f["fixAvailable"] == "YES",
    ),
    (
        {"fixAvailable": _eq("NO", "PARTIAL"), "findingStatus": _not("ACTIVE")},
        lambda f: f["status"] != "ACTIVE" and f["fixAvailable"] in ("NO", "PARTIAL"),
    ),
    (
        {
            "exploitAvailable": _eq("YES"),
            "ecrImageRepositoryName": [{"comparison": "PREFIX", "value": "app"}],
            "findingStatus": _eq("ACTIVE", "SUPPRESSED"),
        },
        lambda f: (
            f["status"] in ("ACTIVE", "SUPPRESSED")
            and f["exploitAvailable"] == "YES"
            and _image(f)["repositoryName"].startswith("app")
        ),
    ),
    (
        {
            "fixAvailable": _not("NO"),
            "exploitAvailable": _eq("NO"),
            "ecrImageTags": _not("latest"),
            "severity": _not("LOW"),
            "findingStatus": _not("CLOSED"),
        },
        lambda f: (
            f["status"] != "CLOSED"
            and f["severity"] != "LOW"
            and f["fixAvailable"] != "NO"
            and f["exploitAvailable"] == "NO"
            and "latest" not in _image(f)["imageTags"]
        ),
    ),
]


def _recount(findings: list[Finding], keep: Callable[[Finding], bool]) -> dict[Any, Counter[str]]:
    """Severity counts per (repository, image, layer): a finding counts once per distinct
    layer of its vulnerable packages."""
    out: dict[Any, Counter[str]] = {}
    for f in findings:
        if not keep(f):
            continue
        image = _image(f)
        packages = f["packageVulnerabilityDetails"]["vulnerablePackages"]
        for layer in {p["sourceLayerHash"] for p in packages} - {None}:
            key = (image["repositoryName"], image["imageHash"], layer)
            out.setdefault(key, Counter())[f["severity"].lower()] += 1
    return out


def _answered(db: Database, criteria: dict[str, Any]) -> dict[Any, Counter[str]]:
    out: dict[Any, Counter[str]] = {}
    with db.read() as conn:
        responses = fdb.aggregation_pages(
            conn, {"aggregationType": "IMAGE_LAYER", "maxResults": 7, "filterCriteria": criteria}
        )
    for response in responses:
        g = response["imageLayerAggregation"]
        digest = g["resourceId"].rsplit("/", 1)[1]
        counts = Counter({k: v for k, v in g["severityCounts"].items() if k != "all"})
        assert g["severityCounts"]["all"] == counts.total()
        out[(g["repository"], digest, g["layerHash"])] = +counts
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_image_layer_with_fix_criteria_equals_a_recount(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 11, 30) as (built, db):
        findings = list(built.shaped.values())
        for criteria, keep in CASES:
            expected = _recount(findings, keep)
            assert expected, criteria  # every case has groups to compare
            assert _answered(db, criteria) == expected, criteria

        # the rollup follows an update of what it is keyed by
        f = t.findings
        with db.write() as conn:
            conn.execute(
                update(f)
                .where(f.c.fix_available == "PARTIAL", f.c.status != "CLOSED")
                .values(fix_available="YES")
            )
        changed = copy.deepcopy(findings)
        for finding in changed:
            if finding["fixAvailable"] == "PARTIAL" and finding["status"] != "CLOSED":
                finding["fixAvailable"] = "YES"
        for criteria, keep in CASES:
            assert _answered(db, criteria) == _recount(changed, keep), criteria
