"""Finding rollups: counts by severity at eight grains, kept exact by SQL triggers.

Aggregating a million findings on every request costs 0.1-1 s on SQLite even from covering
indexes (measured while designing this: a GROUP BY per image over 850,000 ACTIVE rows took 400 ms
on a 2-CPU machine, the package and layer joins several times more). Aggregations read these
tables instead: tens of thousands of rows, one per group and status, with a count column per
severity (a row per severity made the layer table four times longer and its aggregation miss
200 ms at 1,000,000 findings).

    finding_image_counts    (status, repository_id, digest) -> counts, fix and exploit counts
    finding_layer_counts    (status, repository_id, digest, layer_hash, fix_available,
                             exploit_available) -> counts
    finding_package_counts  (status, package_name) -> counts
    finding_title_counts    (status, vulnerability_id, title) -> counts
    finding_detail_counts   (status, detail_ref, vulnerability_id, fix_available,
                             exploit_available, source, score keys) -> counts, scores,
                             the detail's title and package names
    finding_image_fix_counts (status, repository_id, digest, fix_available,
                             exploit_available) -> counts
    finding_image_score_counts (status, repository_id, digest, score key) -> counts, score
    finding_image_first_counts (status, repository_id, digest, first_observed_second)
                             -> counts, fix and exploit counts

The detail and image fix rollups answer filters on what a finding is rather than where it is:
fix and exploit availability, scores, the vulnerability, its source, title, packages. Every
column such a filter reads is a key or a function of `detail_ref`, so the detail rollup's rows
(127,600 at 1,000,000 findings sharing 146,300 details) are filtered by the same SQL as
findings and summed (PACKAGE, TITLE, ACCOUNT, FINDING_TYPE; each row carries its detail's title
and distinct package names, which PACKAGE and TITLE group by without a join); the image fix
rollup (42,139 rows: about four per image and status) does the same for REPOSITORY and
AWS_ECR_CONTAINER filtered by fix or exploit availability, and the layer rollup, keyed by both
too (since findings/12; 108,657 rows, 52,397 keyed by the layer alone), for IMAGE_LAYER. At
1,000,000 findings PACKAGE fixAvailable=YES fell from 2.4 s of CPU to 0.3 s, REPOSITORY
fixAvailable=YES from 1.0 s to 22 ms, IMAGE_LAYER fixAvailable=YES from 1.5 s to 0.07-0.10 s
(docs/findings.md). The image first-seen rollup answers the image grains filtered by a
`firstObservedAt` range (with image criteria): whole seconds inside the range from its rows,
the range's cut seconds from `findings` (`finding_queries/aggregation_first_seen.py`); the
image score rollup answers REPOSITORY and AWS_ECR_CONTAINER filtered by `inspectorScore` ranges
(with image criteria), whose findings the detail rollup can choose but not place in images.

A finding counts once per grain key: once for each distinct layer and each distinct package
name among its vulnerable packages. Triggers on `findings` keep the counts in the transaction
that writes the finding, whatever the path (FindingWriter, suppression flips, purge, a
migration), so they cannot drift; a row whose counts all reach zero is deleted. The triggers read
`detail_packages` and `finding_details` of the finding's detail, which must therefore exist when
a finding is written or deleted (the writer stores details first; purge deletes findings first).

Cost on writes (measured through FindingWriter, 20,000 findings, with the first four tables):
+40 us per finding inserted (about +38%) and +45 us per status change, with `PRAGMA temp_store =
MEMORY`; without it SQLite puts the statement journal a trigger needs in a temp file and the
cost doubles. The detail, image fix, image score and image first-seen tables add one upsert of
a single row each (no read of other tables), and two grouped statements per batch
(`rollup_batches.py`).

A batch writer (a feed delta writing findings of 100,000 images) counts its batch itself, once,
with set-oriented statements while the triggers stand aside (`rollup_batches.py`); both end with
the same counts (tests/unit/storage/sql/test_rollup_batches.py).

The triggers above are SQLite DDL. PostgreSQL keeps the same eight tables another way
(`pg_rollups.py`): several workers writing findings at once would all update the same package
and title rows (lock waits, and deadlocks when two transactions meet them in opposite orders),
so its row triggers only append the finding's counted columns to `finding_count_log`, and a
fold (by the writer after each batch, and by an aggregation before it reads) moves the log into
the tables one transaction at a time, under an advisory lock that is only ever tried; readers
add what the log still holds (`pg_rollups.current`). No writer waits on another's rollup rows
(tests/unit/storage/sql/test_pg_rollups.py, two writers at once). At 100,000 findings the
unfiltered aggregations there fell from 0.1-1.3 s to 8-22 ms (p50), and at 1,000,000 they take
3-16 ms, IMAGE_LAYER 52 (load average 2-4; docs/findings.md). What each table
holds is defined once, as a grouped SELECT over finding rows (`rollup_sources.py`), used by
rebuilds, SQLite's batch counting and PostgreSQL's fold alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, text

from dockwatch.storage.sql import pg_rollups
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.rollup_sources import (
    COUNTED,
    DETAIL_KEY,
    image_source,
    sources,
    title_expression,
)

__all__ = [
    "COUNTED",
    "DETAIL_KEY",
    "TABLES",
    "TRIGGERS",
    "drop_triggers",
    "enabled",
    "image_source",
    "install",
    "install_triggers",
    "rebuild",
    "title_expression",
    "trigger_ddl",
]

TABLES = (
    t.finding_image_counts,
    t.finding_layer_counts,
    t.finding_package_counts,
    t.finding_title_counts,
    t.finding_detail_counts,
    t.finding_image_fix_counts,
    t.finding_image_score_counts,
    t.finding_image_first_counts,
)
TRIGGERS = ("findings_rollup_insert", "findings_rollup_update", "findings_rollup_delete")


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
        layer_hash, fix_available, exploit_available, repository_name, {_SEVERITY_NAMES})
    SELECT DISTINCT {r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        source_layer_hash, {r}.fix_available, {r}.exploit_available, {r}.repository_name, {sev}
    FROM detail_packages WHERE detail_ref = {r}.detail_ref AND source_layer_hash IS NOT NULL
    ON CONFLICT (account_id, region, status, repository_id, digest, layer_hash, fix_available,
        exploit_available) DO UPDATE SET {_ADD_SEVERITIES};
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
        epss_key, inspector_score, epss_score, title, package_names, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {_detail_values(r)},
        COALESCE({r}.inspector_score, -1.0), COALESCE({r}.epss_score, -1.0),
        {r}.inspector_score, {r}.epss_score,
        (SELECT title FROM finding_details WHERE ref = {r}.detail_ref),
        (SELECT json_group_array(name) FROM (SELECT DISTINCT name FROM detail_packages
            WHERE detail_ref = {r}.detail_ref ORDER BY name)), {sev})
    ON CONFLICT (account_id, region, status, {_DETAIL_NAMES}, score_key, epss_key)
        DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_image_fix_counts (account_id, region, status, repository_id, digest,
        fix_available, exploit_available, repository_name, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        {r}.fix_available, {r}.exploit_available, {r}.repository_name, {sev})
    ON CONFLICT (account_id, region, status, repository_id, digest, fix_available,
        exploit_available) DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_image_score_counts (account_id, region, status, repository_id, digest,
        score_key, inspector_score, repository_name, {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        COALESCE({r}.inspector_score, -1.0), {r}.inspector_score, {r}.repository_name, {sev})
    ON CONFLICT (account_id, region, status, repository_id, digest, score_key)
        DO UPDATE SET {_ADD_SEVERITIES};
    INSERT INTO finding_image_first_counts (account_id, region, status, repository_id, digest,
        first_observed_second, repository_name, fix_yes, fix_partial, exploit_yes,
        {_SEVERITY_NAMES})
    VALUES ({r}.account_id, {r}.region, {r}.status, {r}.repository_id, {r}.digest,
        {_first_second(r)}, {r}.repository_name, {r}.fix_available = 'YES',
        {r}.fix_available = 'PARTIAL', {r}.exploit_available = 'YES', {sev})
    ON CONFLICT (account_id, region, status, repository_id, digest, first_observed_second)
        DO UPDATE SET {_ADD_SEVERITIES}, fix_yes = fix_yes + excluded.fix_yes,
        fix_partial = fix_partial + excluded.fix_partial,
        exploit_yes = exploit_yes + excluded.exploit_yes;
    """


_DETAIL_NAMES = ", ".join(DETAIL_KEY)


def _first_second(r: str) -> str:
    """The key of the finding row `r` in `finding_image_first_counts`: its `first_observed_at`
    (integer microseconds) floored to the second (`rollup_sources.first_second`)."""
    x, n = f"{r}.first_observed_at", t.FIRST_SECOND
    return f"({x} - (({x} % {n}) + {n}) % {n})"


def _subtract_fixes(r: str) -> str:
    return (
        f"fix_yes = fix_yes - ({r}.fix_available = 'YES'), "
        f"fix_partial = fix_partial - ({r}.fix_available = 'PARTIAL'), "
        f"exploit_yes = exploit_yes - ({r}.exploit_available = 'YES')"
    )


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
    score = f"{image} AND score_key = COALESCE({r}.inspector_score, -1.0)"
    first = f"{image} AND first_observed_second = {_first_second(r)}"
    return f"""
    UPDATE finding_image_counts SET {sub}, {_subtract_fixes(r)} WHERE {image};
    DELETE FROM finding_image_counts WHERE {image} AND {_EMPTY};
    UPDATE finding_layer_counts SET {sub} WHERE {fix} AND layer_hash IN ({layers});
    DELETE FROM finding_layer_counts WHERE {fix} AND {_EMPTY};
    UPDATE finding_package_counts SET {sub} WHERE {tenant} AND package_name IN ({names});
    DELETE FROM finding_package_counts WHERE {tenant} AND package_name IN ({names})
        AND {_EMPTY};
    UPDATE finding_title_counts SET {sub} WHERE {vuln} AND title = {title};
    DELETE FROM finding_title_counts WHERE {vuln} AND {_EMPTY};
    UPDATE finding_detail_counts SET {sub} WHERE {detail};
    DELETE FROM finding_detail_counts WHERE {detail} AND {_EMPTY};
    UPDATE finding_image_fix_counts SET {sub} WHERE {fix};
    DELETE FROM finding_image_fix_counts WHERE {fix} AND {_EMPTY};
    UPDATE finding_image_score_counts SET {sub} WHERE {score};
    DELETE FROM finding_image_score_counts WHERE {score} AND {_EMPTY};
    UPDATE finding_image_first_counts SET {sub}, {_subtract_fixes(r)} WHERE {first};
    DELETE FROM finding_image_first_counts WHERE {first} AND {_EMPTY};
    """


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
    """Whether the rollups are kept on this database (SQLite with the triggers installed;
    PostgreSQL with the count log's triggers, `pg_rollups.py`)."""
    if conn.dialect.name == "postgresql":
        return pg_rollups.installed(conn)
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
    rollup table, or to repair). On PostgreSQL writers of findings wait meanwhile (a SHARE
    lock), the count log is folded first (into the tables that exist: a migration filling one
    may run before another's table is made) and every table left out stays as folded."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE findings IN SHARE MODE"))
        pg_rollups.fold(conn, wait=True, only=pg_rollups.existing(conn))
    for table, source in sources(conn.dialect.name):
        if only is not None and table not in only:
            continue
        conn.execute(table.delete())
        names = [c.name for c in source.selected_columns]
        conn.execute(table.insert().from_select(names, source))


def drop_triggers(conn: Connection) -> None:
    """Remove the triggers (a bulk load then calls `install`, which rebuilds)."""
    if conn.dialect.name == "postgresql":
        pg_rollups.drop_triggers(conn)
    if conn.dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def install(conn: Connection) -> None:
    """Create the rollup tables and the triggers (on PostgreSQL those appending to the count
    log), then fill the tables."""
    t.metadata.create_all(conn, tables=[*TABLES, t.finding_rollup_deferrals, t.finding_count_log])
    if conn.dialect.name not in ("sqlite", "postgresql"):
        return
    install_triggers(conn)
    rebuild(conn)


def install_triggers(conn: Connection) -> None:
    """(Re)create the triggers, leaving the counts as they are."""
    if conn.dialect.name == "postgresql":
        pg_rollups.install_triggers(conn)
        return
    drop_triggers(conn)
    for ddl in trigger_ddl():
        conn.exec_driver_sql(ddl)
