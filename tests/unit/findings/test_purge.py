"""Closed findings are deleted 3 days after closing when their image is gone or ineligible,
30 days after otherwise; details nothing references go with them (controlled clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.findings.purge import Purger, purge_closed
from dockwatch.findings.service import Target
from dockwatch.queries import aggregations as ag
from dockwatch.scan.eligibility import expire_pass
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.storage.sql.unit_of_work import SqlStore, SqlUnitOfWork
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_layer
from tests.builders.push import push_image

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def _image(seed: str) -> Image:
    meta = "usr/lib/python3/site-packages/alpha-1.0.dist-info/METADATA"
    base = make_layer({meta: "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n"})
    return make_image([base, make_layer({"seed": seed})])


def _counts(services: Services) -> dict[str, int]:
    """Findings by repository, and the stored details."""
    f = t.findings
    with services.db.read() as conn:
        out = {
            r[0]: r[1]
            for r in conn.execute(
                select(f.c.repository_name, func.count()).group_by(f.c.repository_name)
            )
        }
        out["details"] = conn.execute(select(func.count()).select_from(t.finding_details)).one()[0]
        out["detail_packages"] = conn.execute(
            select(func.count()).select_from(t.detail_packages)
        ).one()[0]
    return out


def test_purge_follows_inspector_lifecycle(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    try:
        clock.set(T0)
        folder = tmp_path / "osv"
        folder.mkdir()
        (folder / "PYSEC-1.json").write_text(
            json.dumps(
                {
                    "id": "PYSEC-1",
                    "modified": "2031-01-01T00:00:00Z",
                    "affected": [
                        {
                            "package": {"ecosystem": "PyPI", "name": "alpha"},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": "2.0"}],
                                }
                            ],
                        }
                    ],
                }
            )
        )
        import_paths(VulnDb(services.store, services.clock), [folder])
        services.scanner.put_scanning_configuration(
            {
                "scanType": "ENHANCED",
                "rules": [
                    {
                        "scanFrequency": "CONTINUOUS_SCAN",
                        "repositoryFilters": [
                            {"filter": "gone", "filterType": "WILDCARD"},
                            {"filter": "stale", "filterType": "WILDCARD"},
                        ],
                    },
                    {
                        "scanFrequency": "SCAN_ON_PUSH",
                        "repositoryFilters": [{"filter": "kept", "filterType": "WILDCARD"}],
                    },
                ],
            }
        )
        services.scanner.put_ecr_configuration({"rescanDuration": "DAYS_7"})
        digests = {
            name: push_image(services, name, _image(name)) for name in ("gone", "stale", "kept")
        }
        services.worker.drain()
        assert {k: v for k, v in _counts(services).items() if "detail" not in k} == {
            "gone": 1,
            "stale": 1,
            "kept": 1,
        }
        assert _counts(services)["details"] == 1  # the same vulnerable layer: one detail

        # day 1: "gone" is deleted; "kept" is rescanned clean (still eligible)
        clock.set(T0 + timedelta(days=1))
        services.registry.manifests.delete("gone", digests["gone"])
        services.worker.drain()
        with services.db.write() as conn:
            kept = SqlRegistryRepo(conn).get_repository(services.tenant, "kept")
            assert kept is not None
            services.scanner.writer.apply(
                SqlUnitOfWork(conn), [Target(kept.id, "kept", digests["kept"], {})], clock.now()
            )
        # day 8: "stale" passes its 7-day re-scan duration and expires
        clock.set(T0 + timedelta(days=8))
        assert expire_pass(services.scanner) == 1

        def purge_at(moment: datetime) -> int:  # the clock ticks on: a minute either side
            clock.set(moment)
            with services.db.write() as conn:
                return purge_closed(SqlUnitOfWork(conn), services.tenant, clock.now())

        assert purge_at(T0 + timedelta(days=4) - timedelta(minutes=1)) == 0
        assert purge_at(T0 + timedelta(days=4, minutes=1)) == 1  # gone: 3 days after closing
        assert "gone" not in _counts(services)
        assert purge_at(T0 + timedelta(days=11) - timedelta(minutes=1)) == 0
        assert (
            purge_at(T0 + timedelta(days=11, minutes=1)) == 1
        )  # stale: expired (INACTIVE) 3 days ago
        assert set(_counts(services)) == {"kept", "details", "detail_packages"}
        assert _counts(services)["details"] == 1  # still named by kept's closed finding
        assert purge_at(T0 + timedelta(days=31) - timedelta(minutes=1)) == 0
        assert (
            purge_at(T0 + timedelta(days=31, minutes=1)) == 1
        )  # kept: eligible, 30 days after closing
        assert _counts(services) == {"details": 0, "detail_packages": 0}
        with services.db.read() as conn:
            for status in ("ACTIVE", "CLOSED"):
                query = ag.parse_request(
                    {
                        "aggregationType": "ACCOUNT",
                        "filterCriteria": {
                            "findingStatus": [{"comparison": "EQUALS", "value": status}]
                        },
                    }
                )
                assert (
                    ag.aggregate(SqlFindingQueryRepo(conn), services.tenant, query)["responses"]
                    == []
                )
            for table in (t.finding_image_counts, t.finding_package_counts):
                assert conn.execute(select(func.count()).select_from(table)).one()[0] == 0
    finally:
        services.close()


def test_nothing_to_purge(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        with services.db.write() as conn:
            assert purge_closed(SqlUnitOfWork(conn), services.tenant, services.clock.now()) == 0
    finally:
        services.close()


def test_the_worker_purger_runs_at_most_hourly(tmp_path: Path) -> None:
    services = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    try:
        purger = Purger()
        for minutes, ran in ((0, True), (30, False), (59, False), (61, True), (90, False)):
            before = purger.last
            purger.run_if_due(
                SqlStore(services.db), services.tenant, T0 + timedelta(minutes=minutes)
            )
            assert (purger.last != before) is ran, minutes
        purger.run_if_due(
            SqlStore(services.db), services.tenant, T0
        )  # the clock went back: run again
        assert purger.last == T0
    finally:
        services.close()
