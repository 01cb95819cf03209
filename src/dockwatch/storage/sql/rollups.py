"""Finding rollups: counts by severity at six grains, kept exact by SQL triggers.

Aggregating a million findings on every request costs 0.1-1 s on SQLite even from covering
indexes (measured while designing this: a GROUP BY per image over 850,000 ACTIVE rows took 400 ms
on a 2-CPU machine, the package and layer joins several times more). Aggregations read these
tables instead: tens of thousands of rows, one per group and status, with a count column per
severity (a row per severity made the layer table four times longer and its aggregation miss
200 ms at 1,000,000 findings).

    finding_image_counts    (status, repository_id, digest) -> counts, fix and exploit counts
    finding_layer_counts    (status, repository_id, digest, layer_hash) -> counts
    finding_package_counts  (status, package_name) -> counts
    finding_title_counts    (status, vulnerability_id, title) -> counts
    finding_detail_counts   (status, detail_ref, vulnerability_id, fix_available,
                             exploit_available, source, score keys) -> counts, scores
    finding_image_fix_counts (status, repository_id, digest, fix_available,
                             exploit_available) -> counts

The last two answer filters on what a finding is rather than where it is: fix and exploit
availability, scores, the vulnerability, its source, title, packages. Every column such a filter
reads is a key or a function of `detail_ref`, so the detail rollup's rows (127,600 at 1,000,000
findings sharing 146,300 details) are filtered by the same SQL as findings and summed (PACKAGE,
TITLE, ACCOUNT, FINDING_TYPE); the image fix rollup (42,139 rows: about four per image and
status) does the same for REPOSITORY and AWS_ECR_CONTAINER filtered by fix or exploit
availability. At 1,000,000 findings PACKAGE fixAvailable=YES fell from 2.4 s of CPU to 0.3 s,
REPOSITORY fixAvailable=YES from 1.0 s to 22 ms (docs/findings.md).

A finding counts once per grain key: once for each distinct layer and each distinct package
name among its vulnerable packages. Triggers on `findings` keep the counts in the transaction
that writes the finding, whatever the path (FindingWriter, suppression flips, purge, a
migration), so they cannot drift; a row whose counts all reach zero is deleted. The triggers read
`detail_packages` and `finding_details` of the finding's detail, which must therefore exist when
a finding is written or deleted (the writer stores details first; purge deletes findings first).

Cost on writes (measured through FindingWriter, 20,000 findings, with the first four tables):
+40 us per finding inserted (about +38%) and +45 us per status change, with `PRAGMA temp_store =
MEMORY`; without it SQLite puts the statement journal a trigger needs in a temp file and the
cost doubles. The two later tables add one upsert of a single row each (no read of other
tables), and two grouped statements per batch (`rollup_batches.py`).

A batch writer (a feed delta writing findings of 100,000 images) counts its batch itself, once,
with set-oriented statements while the triggers stand aside (`rollup_batches.py`); both end with
the same counts (tests/unit/storage/sql/test_rollup_batches.py).

The triggers are SQLite DDL. On PostgreSQL `enabled()` is false and aggregations group
`findings` directly (`finding_queries/aggregation_scan.py`): exact, only slower, and without hot rows:
several workers writing findings at once would otherwise all update the same package and title
count rows (lock waits, and deadlocks when two transactions meet them in opposite orders). The
tables exist there too, empty, so the schema is the same on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Subquery,
    Table,
    case,
    func,
    select,
    text,
)

from dockwatch.storage.sql import tables as t

TABLES = (
    t.finding_image_counts,
    t.finding_layer_counts,
    t.finding_package_counts,
    t.finding_title_counts,
    t.finding_detail_counts,
    t.finding_image_fix_counts,
)
TRIGGERS = ("findings_rollup_insert", "findings_rollup_update", "findings_rollup_delete")


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _severity_counts() -> list[ColumnElement[int]]:
    f = t.findings
    return [_count_if(f.c.severity == s.upper()).label(s) for s in t.ROLLUP_SEVERITIES]


def title_expression(dialect: str) -> ColumnElement[str]:
    """A detail's `title` (a column of `finding_details`, written with the document)."""
    del dialect
    title: ColumnElement[str] = t.finding_details.c.title
    return title


def _image_key() -> tuple[ColumnElement[Any], ...]:
    """The `findings` columns that name one image's findings of one status."""
    f = t.findings
    return (f.c.account_id, f.c.region, f.c.status, f.c.repository_id, f.c.digest)


def image_source(where: Sequence[ColumnElement[bool]] = ()) -> Select[tuple[object, ...]]:
    """`finding_image_counts` computed from `findings` (rows matching `where`)."""
    f = t.findings
    return (
        select(
            *_image_key(),
            func.max(f.c.repository_name).label("repository_name"),
            _count_if(f.c.fix_available == "YES").label("fix_yes"),
            _count_if(f.c.fix_available == "PARTIAL").label("fix_partial"),
            _count_if(f.c.exploit_available == "YES").label("exploit_yes"),
            *_severity_counts(),
        )
        .where(*where)
        .group_by(*_image_key())
    )


def layer_source(where: Sequence[ColumnElement[bool]] = ()) -> Select[tuple[object, ...]]:
    """`finding_layer_counts` computed from `findings` (rows matching `where`)."""
    f, dp = t.findings, t.detail_packages
    layers = (
        select(dp.c.detail_ref, dp.c.source_layer_hash.label("layer_hash"))
        .where(dp.c.source_layer_hash.is_not(None))
        .distinct()
        .subquery()
    )
    return (
        select(
            *_image_key(),
            layers.c.layer_hash,
            func.max(f.c.repository_name).label("repository_name"),
            *_severity_counts(),
        )
        .join_from(f, layers, layers.c.detail_ref == f.c.detail_ref)
        .where(*where)
        .group_by(*_image_key(), layers.c.layer_hash)
    )


def _per_detail(where: Sequence[ColumnElement[bool]]) -> Subquery:
    """Severity counts per (status, detail): findings sharing a detail (every image of a base
    layer) collapse before the join with packages or titles, a tenth of the rows or less."""
    f = t.findings
    return (
        select(
            f.c.account_id,
            f.c.region,
            f.c.status,
            f.c.vulnerability_id,
            f.c.detail_ref,
            *_severity_counts(),
        )
        .where(*where)
        .group_by(f.c.account_id, f.c.region, f.c.status, f.c.vulnerability_id, f.c.detail_ref)
        .subquery("per_detail")
    )


def _sum_counts(source: Subquery) -> list[ColumnElement[int]]:
    return [func.sum(source.c[s]).label(s) for s in t.ROLLUP_SEVERITIES]


def package_source(where: Sequence[ColumnElement[bool]] = ()) -> Select[tuple[object, ...]]:
    """`finding_package_counts` computed from `findings` (rows matching `where`)."""
    dp = t.detail_packages
    per = _per_detail(where)
    names = select(dp.c.detail_ref, dp.c.name.label("package_name")).distinct().subquery()
    return (
        select(
            per.c.account_id,
            per.c.region,
            per.c.status,
            names.c.package_name,
            *_sum_counts(per),
        )
        .join_from(per, names, names.c.detail_ref == per.c.detail_ref)
        .group_by(per.c.account_id, per.c.region, per.c.status, names.c.package_name)
    )


def title_source(
    dialect: str, where: Sequence[ColumnElement[bool]] = ()
) -> Select[tuple[object, ...]]:
    """`finding_title_counts` computed from `findings` (rows matching `where`)."""
    d = t.finding_details
    per = _per_detail(where)
    title = func.coalesce(title_expression(dialect), per.c.vulnerability_id)
    return (
        select(
            per.c.account_id,
            per.c.region,
            per.c.status,
            per.c.vulnerability_id,
            title.label("title"),
            *_sum_counts(per),
        )
        .join_from(per, d, d.c.ref == per.c.detail_ref)
        .group_by(per.c.account_id, per.c.region, per.c.status, per.c.vulnerability_id, title)
    )


def image_fix_source(where: Sequence[ColumnElement[bool]] = ()) -> Select[tuple[object, ...]]:
    """`finding_image_fix_counts` computed from `findings` (rows matching `where`)."""
    f = t.findings
    key = [*_image_key(), f.c.fix_available, f.c.exploit_available]
    return (
        select(*key, func.max(f.c.repository_name).label("repository_name"), *_severity_counts())
        .where(*where)
        .group_by(*key)
    )


DETAIL_KEY = (
    "detail_ref", "vulnerability_id", "fix_available", "exploit_available", "source",
)  # fmt: skip
"""The `findings` columns keying `finding_detail_counts` as they are (the scores are keyed by
`coalesce(score, -1)`)."""


def detail_source(where: Sequence[ColumnElement[bool]] = ()) -> Select[tuple[object, ...]]:
    """`finding_detail_counts` computed from `findings` (rows matching `where`)."""
    f = t.findings
    score = func.coalesce(f.c.inspector_score, -1.0)
    epss = func.coalesce(f.c.epss_score, -1.0)
    key = [f.c.account_id, f.c.region, f.c.status, *[f.c[c] for c in DETAIL_KEY]]
    return (
        select(
            *key,
            score.label("score_key"),
            epss.label("epss_key"),
            func.max(f.c.inspector_score).label("inspector_score"),
            func.max(f.c.epss_score).label("epss_score"),
            *_severity_counts(),
        )
        .where(*where)
        .group_by(*key, score, epss)
    )


def _sources(dialect: str) -> list[tuple[Table, Select[tuple[object, ...]]]]:
    return [
        (t.finding_image_counts, image_source()),
        (t.finding_layer_counts, layer_source()),
        (t.finding_package_counts, package_source()),
        (t.finding_title_counts, title_source(dialect)),
        (t.finding_detail_counts, detail_source()),
        (t.finding_image_fix_counts, image_fix_source()),
    ]


# --- SQLite triggers ----------------------------------------------------------------------------

_TITLE = (
    "COALESCE((SELECT title FROM finding_details WHERE ref = {r}.detail_ref), {r}.vulnerability_id)"
)


_SEVERITY_NAMES = ", ".join(t.ROLLUP_SEVERITIES)


def _severity_values(r: str) -> str:
    return ", ".join(f"{r}.severity = '{s.upper()}'" for s in t.ROLLUP_SEVERITIES)


_ADD_SEVERITIES = ", ".join(f"{s} = {s} + excluded.{s}" for s in t.ROLLUP_SEVERITIES)
_EMPTY = " AND ".join(f"{s} <= 0" for s in t.ROLLUP_SEVERITIES)


def _subtract(r: str) -> str:
    return ", ".join(f"{s} = {s} - ({r}.severity = '{s.upper()}')" for s in t.ROLLUP_SEVERITIES)


def _add(r: str) -> str:
    """Statements counting the finding row `r` (NEW) in."""
    title = _TITLE.format(r=r)
    sev = _severity_values(r)
    return f"""
    INSERT INTO finding_image_counts (account_id, region, status, repository_id, digest,
        repository_name, fix_yes, fix_partial, exploit_yes, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        {r}.repository_name, {r}.fix_available = 'YES', {r}.fix_available = 'PARTIAL',
        {r}.exploit_available = 'YES', {sev})
    ON CONFLICT (account_id, region, status, repository_id, digest) DO UPDATE SET
        {_ADD_SEVERITIES}, fix_yes = fix_yes + excluded.fix_yes,
        fix_partial = fix_partial + excluded.fix_partial,
        exploit_yes = exploit_yes + excluded.exploit_yes;
    INSERT INTO finding_layer_counts (account_id, region, status, repository_id, digest,
        layer_hash, repository_name, {_SEVERITY_NAMES})
    SELECT DISTINCT {r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        source_layer_hash, {r}.repository_name, {sev}
    FROM detail_packages WHERE detail_ref = {r}.detail_ref AND source_layer_hash IS NOT NULL
    ON CONFLICT (account_id, region, status, repository_id, digest, layer_hash)
        DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_package_counts (account_id, region, status, package_name,
        {_SEVERITY_NAMES})
    SELECT DISTINCT {r}.account_id, {r}.region, {r}.status, name, {sev}
    FROM detail_packages WHERE detail_ref = {r}.detail_ref
    ON CONFLICT (account_id, region, status, package_name) DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_title_counts (account_id, region, status, vulnerability_id, title,
        {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.vulnerability_id, {title}, {sev})
    ON CONFLICT (account_id, region, status, vulnerability_id, title)
        DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_detail_counts (account_id, region, status, {_DETAIL_NAMES}, score_key,
        epss_key, inspector_score, epss_score, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {_detail_values(r)},
        COALESCE({r}.inspector_score, -1.0), COALESCE({r}.epss_score, -1.0),
        {r}.inspector_score, {r}.epss_score, {sev})
    ON CONFLICT (account_id, region, status, {_DETAIL_NAMES}, score_key, epss_key)
        DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_image_fix_counts (account_id, region, status, repository_id, digest,
        fix_available, exploit_available, repository_name, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        {r}.fix_available, {r}.exploit_available, {r}.repository_name, {sev})
    ON CONFLICT (account_id, region, status, repository_id, digest, fix_available,
        exploit_available) DO UPDATE SET {_ADD_SEVERITIES};
    """


_DETAIL_NAMES = ", ".join(DETAIL_KEY)


def _detail_values(r: str) -> str:
    return ", ".join(f"{r}.{c}" for c in DETAIL_KEY)


def _detail_row(r: str) -> str:
    """The condition naming the `finding_detail_counts` row of the finding row `r`."""
    same = " AND ".join(f"{c} = {r}.{c}" for c in DETAIL_KEY)
    return (
        f"{same} AND score_key = COALESCE({r}.inspector_score, -1.0) "
        f"AND epss_key = COALESCE({r}.epss_score, -1.0)"
    )


def _remove(r: str) -> str:
    """Statements counting the finding row `r` (OLD) out, deleting rows that reach zero."""
    title = _TITLE.format(r=r)
    sub = _subtract(r)
    tenant = f"account_id = {r}.account_id AND region = {r}.region AND status = {r}.status"
    image = f"{tenant} AND repository_id = {r}.repository_id AND digest = {r}.digest"
    layers = f"SELECT source_layer_hash FROM detail_packages WHERE detail_ref = {r}.detail_ref"
    names = f"SELECT name FROM detail_packages WHERE detail_ref = {r}.detail_ref"
    vuln = f"{tenant} AND vulnerability_id = {r}.vulnerability_id"
    detail = f"{tenant} AND {_detail_row(r)}"
    fix = (
        f"{image} AND fix_available = {r}.fix_available "
        f"AND exploit_available = {r}.exploit_available"
    )
    return f"""
    UPDATE finding_image_counts SET {sub},
        fix_yes = fix_yes - ({r}.fix_available = 'YES'),
        fix_partial = fix_partial - ({r}.fix_available = 'PARTIAL'),
        exploit_yes = exploit_yes - ({r}.exploit_available = 'YES')
    WHERE {image};
    DELETE FROM finding_image_counts WHERE {image} AND {_EMPTY};
    UPDATE finding_layer_counts SET {sub} WHERE {image} AND layer_hash IN ({layers});
    DELETE FROM finding_layer_counts WHERE {image} AND {_EMPTY};
    UPDATE finding_package_counts SET {sub} WHERE {tenant} AND package_name IN ({names});
    DELETE FROM finding_package_counts WHERE {tenant} AND package_name IN ({names})
        AND {_EMPTY};
    UPDATE finding_title_counts SET {sub} WHERE {vuln} AND title = {title};
    DELETE FROM finding_title_counts WHERE {vuln} AND {_EMPTY};
    UPDATE finding_detail_counts SET {sub} WHERE {detail};
    DELETE FROM finding_detail_counts WHERE {detail} AND {_EMPTY};
    UPDATE finding_image_fix_counts SET {sub} WHERE {fix};
    DELETE FROM finding_image_fix_counts WHERE {fix} AND {_EMPTY};
    """


COUNTED = (
    "account_id", "region", "status", "repository_id", "repository_name", "digest",
    "vulnerability_id", "severity", "fix_available", "exploit_available", "detail_ref",
    "source", "inspector_score", "epss_score",
)  # fmt: skip


_NOT_DEFERRED = "NOT EXISTS (SELECT 1 FROM finding_rollup_deferrals)"
"""Every trigger stands aside while a batch writer counts its batch itself
(storage/sql/rollup_batches.py)."""


def trigger_ddl() -> list[str]:
    """CREATE TRIGGER statements (SQLite)."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COUNTED)
    return [
        f"CREATE TRIGGER findings_rollup_insert AFTER INSERT ON findings WHEN {_NOT_DEFERRED} "
        f"BEGIN {_add('NEW')} END",
        f"CREATE TRIGGER findings_rollup_update AFTER UPDATE OF {', '.join(COUNTED)} "
        f"ON findings WHEN ({changed}) AND {_NOT_DEFERRED} BEGIN {_remove('OLD')} {_add('NEW')} "
        "END",
        f"CREATE TRIGGER findings_rollup_delete AFTER DELETE ON findings WHEN {_NOT_DEFERRED} "
        f"BEGIN {_remove('OLD')} END",
    ]


def enabled(conn: Connection) -> bool:
    """Whether the rollups are kept on this database (SQLite with the triggers installed)."""
    if conn.dialect.name != "sqlite":
        return False
    names = {
        r[0]
        for r in conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'findings'")
        )
    }
    return set(TRIGGERS) <= names


def rebuild(conn: Connection, only: Sequence[Table] | None = None) -> None:
    """Recompute every rollup (or those `only`) from `findings` (after a bulk load, a new
    rollup table, or to repair)."""
    for table, source in _sources(conn.dialect.name):
        if only is not None and table not in only:
            continue
        conn.execute(table.delete())
        names = [c.name for c in source.selected_columns]
        conn.execute(table.insert().from_select(names, source))


def drop_triggers(conn: Connection) -> None:
    """Remove the triggers (a bulk load then calls `install`, which rebuilds)."""
    if conn.dialect.name != "sqlite":
        return  # never installed elsewhere
    for name in TRIGGERS:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def install(conn: Connection) -> None:
    """Create the rollup tables and (on SQLite) the triggers, then fill the tables (on SQLite
    only: elsewhere nothing keeps them, so they stay empty and unread)."""
    t.metadata.create_all(conn, tables=[*TABLES, t.finding_rollup_deferrals])
    if conn.dialect.name != "sqlite":
        return
    install_triggers(conn)
    rebuild(conn)


def install_triggers(conn: Connection) -> None:
    """(Re)create the SQLite triggers, leaving the counts as they are."""
    drop_triggers(conn)
    for ddl in trigger_ddl():
        conn.exec_driver_sql(ddl)
