"""Image-grain aggregations filtered by a detail's fields equal a recount of the finding rows.

REPOSITORY, AWS_ECR_CONTAINER and IMAGE_LAYER with criteria on the detail document, or on a
finding's own columns where every finding of a chosen detail agrees on them, are answered from
the findings' detail index (`aggregation_images.py`; on SQLite through per-detail image lists,
`aggregation_image_lists.py`); when two images of a repository share an image key, or the
findings of a chosen detail differ in a column the criteria read, by the grouped scan instead.
Either way the answer must be what counting the rows `sql_filter` keeps gives (that filter is
itself checked against the in-memory matcher: test_criteria_sql.py), with layers taken from
each detail's `detail_packages` rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.finding_queries.aggregation_filters import counted
from dockwatch.storage.sql.finding_queries.aggregation_images import (
    detail_index_source,
    digests_sha256,
    image_keys_unique,
)
from dockwatch.storage.sql.schema.findings import image_key
from tests.unit.queries import findings_db as fdb


def _eq(value: str) -> list[dict[str, str]]:
    return [{"comparison": "EQUALS", "value": value}]


def _prefix(value: str) -> list[dict[str, str]]:
    return [{"comparison": "PREFIX", "value": value}]


CRITERIA: list[dict[str, Any]] = [
    {"vendorSeverity": _eq("HIGH")},
    {"relatedVulnerabilities": _prefix("GHSA-1"),
     "findingStatus": [{"comparison": "NOT_EQUALS", "value": "CLOSED"}]},
    {"title": _prefix("CVE-2024-0002"), "ecrImageRepositoryName": _prefix("app")},
    {"vulnerablePackages": [{"name": {"comparison": "EQUALS", "value": "openssl"}}],
     "severity": [{"comparison": "NOT_EQUALS", "value": "LOW"}],
     "findingStatus": _eq("SUPPRESSED")},
    {"vendorSeverity": [{"comparison": "NOT_EQUALS", "value": "HIGH"}],
     "ecrImageTags": _eq("latest")},
    {"exploitAvailable": _eq("YES")},
    {"inspectorScore": [{"lowerInclusive": 7.0}],
     "findingStatus": [{"comparison": "NOT_EQUALS", "value": "SUPPRESSED"}]},
    {"epssScore": [{"lowerInclusive": 0.01, "upperInclusive": 0.5}], "vendorSeverity": _eq("HIGH"),
     "severity": [{"comparison": "NOT_EQUALS", "value": "MEDIUM"}]},
    {"vulnerabilitySource": _prefix("NVD"), "ecrImageRepositoryName": _prefix("app")},
    {"vulnerabilityId": _prefix("CVE-2024-000"), "exploitAvailable": _eq("NO")},
]  # fmt: skip
"""Criteria on the detail document (with statuses, severities and image criteria), and on a
finding's own columns that follow from its detail in this store (exploit, scores, source,
vulnerability; its fix availability is drawn apart from the detail)."""

KINDS = ("REPOSITORY", "AWS_ECR_CONTAINER", "IMAGE_LAYER")
COUNTED = ("all", "critical", "high", "medium")
"""The severity counts Inspector's answer carries."""


def _recount(built: fdb.FindingsDb, criteria: dict[str, Any], kind: str) -> dict[Any, Any]:
    """Group key -> (severity counts, affected images) over the rows the criteria keep."""
    doc = dict(criteria)
    doc.setdefault("findingStatus", _eq("ACTIVE"))  # what an aggregation counts by default
    ids = fdb.filtered_ids(built.db, doc)
    f, dp = t.findings, t.detail_packages
    with built.db.read() as conn:
        rows = conn.execute(select(f).where(f.c.id.in_(sorted(ids)))).all()
        layers: dict[str, set[str]] = defaultdict(set)
        for ref, layer in conn.execute(select(dp.c.detail_ref, dp.c.source_layer_hash)):
            if layer is not None:
                layers[ref].add(layer)
    groups: dict[Any, tuple[dict[str, int], set[str]]] = {}
    for r in rows:
        if kind == "REPOSITORY":
            keys: list[Any] = [r.repository_name]
        elif kind == "AWS_ECR_CONTAINER":
            keys = [(r.repository_name, r.digest)]
        else:
            keys = [(r.repository_name, r.digest, layer) for layer in layers[r.detail_ref]]
        for key in keys:
            counts, images = groups.setdefault(key, (dict.fromkeys(COUNTED, 0), set()))
            counts["all"] += 1
            if r.severity.lower() in counts:
                counts[r.severity.lower()] += 1
            images.add(r.digest)
    return {k: (c, len(i) if kind == "REPOSITORY" else None) for k, (c, i) in groups.items()}


def _answered(built: fdb.FindingsDb, criteria: dict[str, Any], kind: str) -> dict[Any, Any]:
    """The same, from every page of ListFindingAggregations."""
    out: dict[Any, Any] = {}
    with built.db.read() as conn:
        responses = fdb.aggregation_pages(
            conn, {"aggregationType": kind, "maxResults": 7, "filterCriteria": criteria}
        )
    for item in responses:
        ((_, group),) = item.items()
        if kind == "REPOSITORY":
            key: Any = group["repository"]
        elif kind == "AWS_ECR_CONTAINER":
            key = (group["repository"], group["imageSha"])
        else:
            digest = group["resourceId"].rsplit("/", 1)[1]
            key = (group["repository"], digest, group["layerHash"])
        assert key not in out, key
        counts = {n: group["severityCounts"][n] for n in COUNTED}
        out[key] = (counts, group.get("affectedImages"))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fdb.FindingsDb]:
    store = fdb.build_db(tmp_path_factory.mktemp("images") / "f.db", 7, images=40)
    yield store
    store.db.close()


def _index_answers(built: fdb.FindingsDb, criteria: dict[str, Any]) -> bool:
    from dockwatch.findings.criteria import parse_criteria

    with built.db.read() as conn:
        source = detail_index_source(
            conn, "image", counted(parse_criteria(criteria)), fdb.TENANT, lambda table: table
        )
    return source is not None


@pytest.mark.parametrize("kind", KINDS)
def test_detail_criteria_at_image_grains_equal_a_recount(built: fdb.FindingsDb, kind: str) -> None:
    for criteria in CRITERIA:
        assert _index_answers(built, criteria)  # the detail index answers these
        expected = _recount(built, criteria, kind)
        assert _answered(built, criteria, kind) == expected, criteria
    assert any(_recount(built, c, kind) for c in CRITERIA)


def _copy_findings(
    conn: Any, rows: Sequence[Any], id_suffix: str, **changes: Any
) -> list[dict[str, Any]]:
    """Insert copies of finding `rows` (ids changed, `changes` applied); returns them."""
    f = t.findings
    values = [c.name for c in f.columns if c.computed is None and c.name != "seq"]
    copies = [
        {**{n: getattr(r, n) for n in values}, "id": r.id[:30] + id_suffix, **changes} for r in rows
    ]
    finding_repo.insert_findings(conn, copies)
    return copies


def _first_active(conn: Any) -> Any:
    f = t.findings
    first = conn.execute(
        select(f)
        .where(f.c.account_id == fdb.TENANT.account_id, f.c.status == "ACTIVE")
        .order_by(f.c.seq)
    ).first()
    assert first is not None
    return first


def test_a_findings_own_columns_that_differ_within_a_detail_are_not_taken_from_the_index(
    tmp_path: Path,
) -> None:
    """Fix availability is the finding's own column: once two ACTIVE findings of one detail
    differ in it, the index cannot tell them apart and the grouped scan answers."""
    built = fdb.build_db(tmp_path / "f.db", 5, images=20)
    try:
        with built.db.write() as conn:
            first = _first_active(conn)
            vuln = first.vulnerability_id
            criteria = {"vulnerabilityId": _eq(vuln), "fixAvailable": _eq(first.fix_available)}
            assert _index_answers(built, criteria)  # one finding a detail so far
            other = _digest_not_in(built, conn)
            flipped = "NO" if first.fix_available == "YES" else "YES"
            _copy_findings(conn, [first], "fx", digest=other, fix_available=flipped)
        assert not _index_answers(built, criteria)
        for kind in KINDS:
            expected = _recount(built, criteria, kind)
            assert expected and _answered(built, criteria, kind) == expected
        # the other value chooses the copy alone; the detail is mixed for it too
        flipped_criteria = {"vulnerabilityId": _eq(vuln), "fixAvailable": _eq(flipped)}
        assert not _index_answers(built, flipped_criteria)
        for kind in KINDS:
            assert _answered(built, flipped_criteria, kind) == _recount(
                built, flipped_criteria, kind
            )
    finally:
        built.db.close()


def _digest_not_in(built: fdb.FindingsDb, conn: Any) -> str:
    """A sha256 digest no finding has."""
    used = set(conn.execute(select(t.findings.c.digest)).scalars())
    return next(d for d in (fdb._digest(n) for n in range(1000, 2000)) if d not in used)


def test_a_detail_repeated_in_one_image_counts_each_finding(tmp_path: Path) -> None:
    """CLOSED findings of past generations repeat an image's detail: each counts once."""
    built = fdb.build_db(tmp_path / "f.db", 9, images=20)
    try:
        with built.db.write() as conn:
            first = _first_active(conn)
            rows = conn.execute(
                select(t.findings).where(t.findings.c.detail_ref == first.detail_ref)
            ).all()
            for n in range(3):
                _copy_findings(conn, rows, f"g{n}", status="CLOSED", generation=n + 1)
            title = conn.execute(
                select(t.finding_details.c.title).where(t.finding_details.c.ref == first.detail_ref)
            ).scalar_one()
        for criteria in (
            {"title": _eq(title), "findingStatus": _eq("CLOSED")},
            {"title": _eq(title), "findingStatus": [{"comparison": "NOT_EQUALS",
                                                     "value": "SUPPRESSED"}]},
        ):  # fmt: skip
            assert _index_answers(built, criteria)
            for kind in KINDS:
                expected = _recount(built, criteria, kind)
                assert expected and _answered(built, criteria, kind) == expected
                if kind == "AWS_ECR_CONTAINER" and criteria["findingStatus"] == _eq("CLOSED"):
                    key = (first.repository_name, first.digest)
                    assert expected[key][0]["all"] >= 3
    finally:
        built.db.close()


def test_digests_of_another_algorithm_are_joined_back_by_their_key(tmp_path: Path) -> None:
    """An image whose digest is not sha256 is found by its key, not by the sha256 range."""
    built = fdb.build_db(tmp_path / "f.db", 11, images=20)
    try:
        with built.db.write() as conn:
            first = _first_active(conn)
            rows = conn.execute(select(t.findings).where(t.findings.c.digest == first.digest)).all()
            other = "sha512:" + "ab" * 64
            _copy_findings(conn, rows, "sx", digest=other)
            assert not digests_sha256(conn, fdb.TENANT, ["ACTIVE"], t.finding_image_counts)
            title = conn.execute(
                select(t.finding_details.c.title).where(t.finding_details.c.ref == first.detail_ref)
            ).scalar_one()
        criteria = {"title": _eq(title)}
        assert _index_answers(built, criteria)
        for kind in KINDS:
            expected = _recount(built, criteria, kind)
            assert _answered(built, criteria, kind) == expected
            if kind == "AWS_ECR_CONTAINER":
                assert (first.repository_name, other) in expected
    finally:
        built.db.close()


def test_two_images_sharing_an_image_key_are_still_told_apart(tmp_path: Path) -> None:
    built = fdb.build_db(tmp_path / "f.db", 3, images=20)
    try:
        f = t.findings
        with built.db.write() as conn:
            first = _first_active(conn)
            title = conn.execute(
                select(t.finding_details.c.title).where(t.finding_details.c.ref == first.detail_ref)
            ).scalar_one()
            # another image of the same repository whose digest starts with the same 12 digits
            twin = first.digest[:19] + "0" * (len(first.digest) - 19)
            assert image_key(twin) == image_key(first.digest) and twin != first.digest
            values = [c.name for c in f.columns if c.computed is None and c.name != "seq"]
            rows = conn.execute(select(f).where(f.c.digest == first.digest)).all()
            copies = [
                {**{n: getattr(r, n) for n in values}, "id": r.id[:31] + "x", "digest": twin}
                for r in rows
            ]
            finding_repo.insert_findings(conn, copies)
            assert not image_keys_unique(conn, fdb.TENANT, ["ACTIVE"], t.finding_image_counts)
        criteria = {"title": _eq(title)}
        assert not _index_answers(built, criteria)  # the grouped scan answers
        for kind in KINDS:
            expected = _recount(built, criteria, kind)
            assert _answered(built, criteria, kind) == expected
            if kind == "AWS_ECR_CONTAINER":  # both images, each with its own counts
                assert (first.repository_name, first.digest) in expected
                assert (first.repository_name, twin) in expected
            if kind == "REPOSITORY":
                assert expected[first.repository_name][1] >= 2
    finally:
        built.db.close()
