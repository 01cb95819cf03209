"""ACTIVE findings by severity of a repository's images (DescribeImages' severity counts), on
both backends: from the image rollup where it is kept, from the findings where it is not, and
after findings close; each time against a count of the stored rows made here."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import image_counts, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.unit_of_work import SqlStore
from tests.unit.queries import findings_db as fdb

from .conftest import BACKENDS, random_findings


def _expected(db: Database) -> dict[tuple[Tenant, int, str], dict[str, int]]:
    f = t.findings
    with db.read() as conn:
        rows = conn.execute(
            select(f.c.account_id, f.c.region, f.c.repository_id, f.c.digest, f.c.severity)
            .where(f.c.status == "ACTIVE")
        ).all()  # fmt: skip
    counted = Counter((Tenant(a, r), rid, d, s) for a, r, rid, d, s in rows)
    out: dict[tuple[Tenant, int, str], dict[str, int]] = {}
    for (tenant, rid, digest, severity), n in counted.items():
        out.setdefault((tenant, rid, digest), {})[severity] = n
    return out


def _images(db: Database) -> dict[tuple[Tenant, int], list[str]]:
    f = t.findings
    with db.read() as conn:
        rows = conn.execute(
            select(f.c.account_id, f.c.region, f.c.repository_id, f.c.digest).distinct()
        ).all()
    out: dict[tuple[Tenant, int], list[str]] = {}
    for a, r, rid, digest in rows:
        out.setdefault((Tenant(a, r), rid), []).append(digest)
    return out


def _check(db: Database) -> None:
    expected = _expected(db)
    images = _images(db)
    assert len(images) > 2 and expected
    with SqlStore(db).read() as uow:
        for (tenant, rid), digests in images.items():
            asked = [*digests, "sha256:" + "f" * 64, digests[0]]  # unknown and repeated
            got = uow.findings.active_counts(tenant, rid, asked)
            want = {d: expected[(tenant, rid, d)] for d in digests if (tenant, rid, d) in expected}
            assert got == want, (tenant, rid)
        other = Tenant("999999999999", fdb.TENANT.region)  # another tenant's images: none
        (tenant, rid), digests = next(iter(images.items()))
        assert uow.findings.active_counts(other, rid, digests) == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_counts_of_images_from_the_rollup_and_from_the_findings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with random_findings(backend, request, tmp_path, 8, 30) as (_built, db):
        with db.read() as conn:
            assert rollups.enabled(conn)
        _check(db)
        f = t.findings
        with db.read() as conn:
            active = conn.execute(select(f.c.id).where(f.c.status == "ACTIVE")).scalars().all()
        with SqlStore(db).write() as uow:  # every third ACTIVE finding closes
            uow.findings.close(sorted(active)[::3], datetime(2031, 1, 1, tzinfo=UTC))
        _check(db)
        if backend == "sqlite":  # the triggers off: counted from the findings
            with db.write() as conn:
                rollups.drop_triggers(conn)
            with db.read() as conn:
                assert not rollups.enabled(conn)
            _check(db)
            expected = _expected(db)
            with db.read() as conn:
                for (tenant, rid, digest), counts in list(expected.items())[:5]:
                    got = image_counts.active_counts(conn, tenant, rid, [digest])
                    assert got == {digest: counts}
