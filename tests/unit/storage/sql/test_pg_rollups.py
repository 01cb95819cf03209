"""PostgreSQL's rollups (count log, fold) equal a recount of the findings, whatever the writes.

Hypothesis draws the same steps as the batch-counting test (`test_rollup_batches.py`) and runs
them through `FindingWriter` on a real PostgreSQL: after each step the rollup tables (folded)
must equal a recount of the findings in plain Python, and so must the tables read with the log
not folded yet (`pg_rollups.current`); the detail rollup's titles and package names must be
those of each row's detail document, folded or not, and PACKAGE and TITLE aggregations filtered
on fix availability (which read them) must equal a recount. A writer commits while another transaction holds the
fold (its rows wait in the log, reads add them up), and two writers in threads, each in its own
transactions, write findings of two images sharing package names and titles (the rows every
writer would update in place) at the same time, round after round: all commit (no deadlock)
and the counts stay exact.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, or_, select, update

from dockwatch.findings.service import FindingWriter, Target
from dockwatch.model.identity import Tenant
from dockwatch.queries import aggregations as ag
from dockwatch.storage.sql import pg_rollups, rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.finding_query_repo import SqlFindingQueryRepo
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlUnitOfWork
from tests.support.postgres import PostgresCluster

from .test_rollup_batches import (
    _COUNTERS,
    IMAGES,
    ROLLUPS,
    T0,
    VULNS,
    _apply,
    _draft,
    _recount,
    _state,
    _step,
    _stored_carried,
    _stored_counts,
    carried_mismatches,
    detail_names,
)

_accounts = itertools.count(200000000000)


@pytest.fixture(scope="module")
def pg(postgres_cluster: PostgresCluster) -> Iterator[Database]:
    """One migrated PostgreSQL database for the module (each example uses its own account)."""
    url = postgres_cluster.create_database()
    db = Database(url)
    migrate(db)
    try:
        yield db
    finally:
        db.close()
        postgres_cluster.drop_database(url)


def _repositories(db: Database, tenant: Tenant) -> dict[str, int]:
    with db.write() as conn:
        for name in ("app", "web"):
            conn.execute(t.repositories.insert().values(
                account_id=tenant.account_id, region=tenant.region, name=name, created_at=T0))  # fmt: skip
        rows = conn.execute(
            select(t.repositories).where(t.repositories.c.account_id == tenant.account_id)
        )
        return {r.name: r.id for r in rows}


def _expected(db: Database, account: str) -> dict[str, Counter[tuple[Any, ...]]]:
    recounted = _recount(_state(db, account))
    return {
        name: Counter({k: v for k, v in counts.items() if k[-1] in _COUNTERS[name]})
        for name, counts in recounted.items()
    }


def _current(conn: Connection, account: str) -> dict[str, Any]:
    """Each rollup read as an aggregation reads it with the log not folded yet."""
    out = {}
    for table in ROLLUPS:
        source = pg_rollups.current(table, True)
        key = [c.name for c in table.primary_key.columns]
        counts = [c for c in source.c.keys() if c in _COUNTERS[table.name]]
        grouped = (
            select(*[source.c[k] for k in key], *[func.sum(source.c[c]).label(c) for c in counts])
            .where(source.c.account_id == account)
            .group_by(*[source.c[k] for k in key])
        )
        out[table.name] = sorted(tuple(r) for r in conn.execute(grouped))
    return out


def _current_carried(conn: Connection, account: str) -> list[tuple[Any, ...]]:
    """The detail rollup as an aggregation reads it with the log not folded yet: rows whose
    title or package names are not their detail document's (every row, from the table or the
    log, carries them)."""
    source = pg_rollups.current(t.finding_detail_counts, True)
    rows = [r._mapping for r in conn.execute(select(source).where(source.c.account_id == account))]
    docs = {r.ref: orjson.loads(r.doc) for r in conn.execute(select(t.finding_details))}
    return carried_mismatches([dict(r) for r in rows], docs)


def _fixed_recount(state: dict[str, Any]) -> dict[str, dict[Any, dict[str, int]]]:
    """PACKAGE and TITLE aggregations of ACTIVE findings with fixAvailable=YES, recounted from
    the finding rows and their detail documents: severity counts per package name (a finding
    counts once per distinct name) and per (title, vulnerability id)."""
    cols = [c.name for c in t.findings.columns]
    names = detail_names(state["docs"])
    out: dict[str, dict[Any, Counter[str]]] = {"PACKAGE": {}, "TITLE": {}}
    for raw in state["findings"]:
        row = dict(zip(cols, raw, strict=True))
        if row["status"] != "ACTIVE" or row["fix_available"] != "YES":
            continue
        title, packages = names[row["detail_ref"]]
        sev = row["severity"].lower()
        for name in packages:
            out["PACKAGE"].setdefault(name, Counter())[sev] += 1
        key = (row["vulnerability_id"] if title is None else title, row["vulnerability_id"])
        out["TITLE"].setdefault(key, Counter())[sev] += 1
    return {
        kind: {k: {s: c[s] for s in t.ROLLUP_SEVERITIES} | {"all": c.total()} for k, c in g.items()}
        for kind, g in out.items()
    }


def _fixed_answers(db: Database, tenant: Tenant) -> dict[str, dict[Any, dict[str, int]]]:
    """The PACKAGE and TITLE aggregations with fixAvailable=YES as the API answers them."""
    out: dict[str, dict[Any, dict[str, int]]] = {}
    for kind, key in (("PACKAGE", ("packageName",)), ("TITLE", ("title", "vulnerabilityId"))):
        body = {"aggregationType": kind, "maxResults": 100,
                "filterCriteria": {"fixAvailable": [{"comparison": "EQUALS", "value": "YES"}]}}  # fmt: skip
        with db.read() as conn:
            answer = ag.aggregate(SqlFindingQueryRepo(conn), tenant, ag.parse_request(body))
        assert "nextToken" not in answer
        groups = [next(iter(m.values())) for m in answer["responses"]]
        out[kind] = {
            (g[key[0]] if len(key) == 1 else tuple(g[k] for k in key)): g["severityCounts"]
            for g in groups
        }
    return out


def _as_counter(rows: dict[str, Any]) -> dict[str, Counter[tuple[Any, ...]]]:
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    for table in ROLLUPS:
        key = [c.name for c in table.primary_key.columns if c.name not in ("account_id", "region")]
        counts = [c for c in table.c.keys() if c in _COUNTERS[table.name]]
        counter: Counter[tuple[Any, ...]] = Counter()
        for raw in rows[table.name]:
            values = dict(
                zip([c.name for c in table.primary_key.columns] + counts, raw, strict=True)
            )
            for c in counts:
                if values[c]:
                    counter[(*[values[k] for k in key], c)] += values[c]
        out[table.name] = counter
    return out


def _log_rows(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar_one())


def test_installed_by_migration(pg: Database) -> None:
    with pg.read() as conn:
        assert rollups.enabled(conn)
        assert pg_rollups.installed(conn)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=5))
def test_writes_keep_exact_counts(pg: Database, steps: list[tuple[str, Any]]) -> None:
    tenant = Tenant(str(next(_accounts)), "eu-west-1")
    repos = _repositories(pg, tenant)
    for n, (kind, what) in enumerate(steps):
        _apply(pg, tenant, repos, (kind, what, T0 + timedelta(hours=n)), least=1)
        expected = _expected(pg, tenant.account_id)
        with pg.read() as conn:  # read as the aggregations do, with whatever the log holds
            assert _as_counter(_current(conn, tenant.account_id)) == expected
            assert _current_carried(conn, tenant.account_id) == []
        fixed = _fixed_recount(_state(pg, tenant.account_id))
        with pg.write() as holder:  # aggregations adding up what the log holds
            assert pg_rollups.fold(holder, wait=True) is not None
            assert _fixed_answers(pg, tenant) == fixed
        with pg.write() as conn:
            pg_rollups.fold(conn, wait=True)
        assert _log_rows(pg) == 0
        state = _state(pg, tenant.account_id)
        assert _stored_counts(state) == expected
        assert _stored_carried(state) == []
        assert _fixed_answers(pg, tenant) == fixed


def test_other_paths_are_logged_and_folded(pg: Database) -> None:
    """A status flip of many findings in one statement (a suppression rule's path) and a purge's
    delete reach the rollups through the log."""
    tenant = Tenant(str(next(_accounts)), "eu-west-1")
    repos = _repositories(pg, tenant)
    drafts = [_draft(v, "HIGH", "YES", "NO", [(0, 0), (1, 1)]) for v in VULNS]
    step = ("write", [(i, drafts, None) for i in range(len(IMAGES))], T0)
    _apply(pg, tenant, repos, step, least=1)
    f = t.findings
    with pg.write() as conn:
        conn.execute(
            update(f)
            .where(f.c.account_id == tenant.account_id, f.c.vulnerability_id == VULNS[0])
            .values(status="SUPPRESSED")
        )
        # one vulnerability everywhere, and every finding of one image of `app` (which then
        # counts one image, not two, once its rows net to zero)
        conn.execute(
            f.delete().where(
                f.c.account_id == tenant.account_id,
                or_(f.c.vulnerability_id == VULNS[1], f.c.digest == IMAGES[1][1]),
            )
        )
        # an update of columns no rollup counts appends nothing
        before = conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar()
        conn.execute(update(f).where(f.c.account_id == tenant.account_id).values(updated_at=T0))
        after = conn.execute(select(func.count()).select_from(t.finding_count_log)).scalar()
        assert before == after
    assert _log_rows(pg) > 0
    expected = _expected(pg, tenant.account_id)
    with pg.read() as conn:
        assert _as_counter(_current(conn, tenant.account_id)) == expected
        assert _current_carried(conn, tenant.account_id) == []
    fixed = _fixed_recount(_state(pg, tenant.account_id))
    assert fixed["PACKAGE"] and fixed["TITLE"]
    # aggregations while another transaction holds the fold (they add the log up), then after
    # a fold: the same answers (REPOSITORY counts images whose counts net above zero)
    with pg.write() as holder:
        assert pg_rollups.fold(holder, wait=True) is not None  # holds the lock until the end
        unfolded = _aggregations(pg, tenant)
        assert _fixed_answers(pg, tenant) == fixed
        assert _log_rows(pg) > 0
    with pg.write() as conn:
        assert pg_rollups.settle(conn) is False  # folded before the read
    state = _state(pg, tenant.account_id)
    assert _stored_counts(state) == expected
    assert _stored_carried(state) == []
    assert _aggregations(pg, tenant) == unfolded
    assert _fixed_answers(pg, tenant) == fixed
    assert any(unfolded.values())


def _aggregations(db: Database, tenant: Tenant) -> dict[str, Any]:
    """Every aggregation type over every status, sorted by affected images where it can."""
    statuses = [{"comparison": "EQUALS", "value": s} for s in ("ACTIVE", "SUPPRESSED", "CLOSED")]
    out = {}
    for kind in ("REPOSITORY", "AWS_ECR_CONTAINER", "IMAGE_LAYER", "PACKAGE", "TITLE", "ACCOUNT"):
        fixed = [{"comparison": "EQUALS", "value": "YES"}]
        for criteria in ({}, {"findingStatus": statuses}, {"fixAvailable": fixed}):
            body: dict[str, Any] = {"aggregationType": kind, "maxResults": 100}
            if criteria:
                body["filterCriteria"] = criteria
            if kind == "REPOSITORY":
                body["aggregationRequest"] = {
                    "repositoryAggregation": {"sortBy": "AFFECTED_IMAGES"}
                }
            with db.read() as conn:
                answer = ag.aggregate(SqlFindingQueryRepo(conn), tenant, ag.parse_request(body))
            out[f"{kind} {criteria}"] = answer["responses"]
    return out


def _write(db: Database, tenant: Tenant, repos: dict[str, int], image: int,
           vulns: list[str]) -> None:  # fmt: skip
    """One transaction writing `vulns` for image `image` (every draft in the same packages, so
    every writer counts into the same package and title rows)."""
    name, digest = IMAGES[image]
    # other layers in each image, so other details: two writers storing one new detail would
    # wait for each other on its key, rollups or not
    layers = [(0, 0), (2, 1)] if image == 0 else [(0, 1), (2, 0)]
    drafts = {v: _draft(v, "CRITICAL", "NO", "YES", layers) for v in vulns}
    with db.write() as conn:
        FindingWriter(tenant).apply(
            SqlUnitOfWork(conn), [Target(repos[name], name, digest, drafts, None)], T0
        )


def test_concurrent_writers_keep_exact_counts(pg: Database) -> None:
    tenant = Tenant(str(next(_accounts)), "eu-west-1")
    repos = _repositories(pg, tenant)
    _write(pg, tenant, repos, 0, list(VULNS))
    errors: list[BaseException] = []
    hold, ready = threading.Event(), threading.Event()

    def folding() -> None:
        """A transaction that folds, then stays open holding the fold."""
        try:
            with pg.write() as conn:
                assert pg_rollups.fold(conn) is not None
                ready.set()
                assert hold.wait(60)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            ready.set()

    # a writer while another transaction holds the fold: its fold is skipped, it does not
    # wait, and its rows wait in the log, which reads add up
    holder = threading.Thread(target=folding)
    holder.start()
    assert ready.wait(60)
    _write(pg, tenant, repos, 1, list(VULNS[:3]))
    hold.set()
    holder.join(60)
    assert not holder.is_alive()
    assert errors == []
    assert _log_rows(pg) > 0
    expected = _expected(pg, tenant.account_id)
    with pg.read() as conn:
        assert _as_counter(_current(conn, tenant.account_id)) == expected
    # then both at once, many times over, on the same rows (insert, update, close)
    barrier = threading.Barrier(2)

    def both(image: int) -> None:
        try:
            for n in range(6):
                barrier.wait(30)
                vulns = list(VULNS[: 1 + (n + image) % len(VULNS)])
                _write(pg, tenant, repos, image, vulns)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=both, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    expected = _expected(pg, tenant.account_id)
    with pg.read() as conn:
        assert _as_counter(_current(conn, tenant.account_id)) == expected
    with pg.write() as conn:
        pg_rollups.fold(conn, wait=True)
    assert _stored_counts(_state(pg, tenant.account_id)) == expected
