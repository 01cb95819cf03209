"""What each rollup table holds, as a grouped SELECT over finding rows (`rollups.py`).

The rows are `findings` (each row counts once: rebuilds, SQLite's batch counting) or a count
log of PostgreSQL (`pg_rollups.py`: each row counts by its `sign`, 1 or -1); both carry the
`findings` columns a rollup counts by (`COUNTED`), so one definition serves every path and they
cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    Table,
    Text,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    type_coerce,
)

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.epoch_micros import EPOCH_MICROS_TIMESTAMP

COUNTED = (
    "account_id", "region", "status", "repository_id", "repository_name", "digest",
    "vulnerability_id", "severity", "fix_available", "exploit_available", "detail_ref",
    "source", "inspector_score", "epss_score", "first_observed_at",
)  # fmt: skip
"""The `findings` columns the rollups count by: an update of other columns counts nothing.
`first_observed_at` is set once when a finding is stored (a reopened finding keeps it) and no
writer updates it, but a migration may (listing/5 rewrote it as integers): counted, so that
`finding_image_first_counts` follows whatever changes it."""

DETAIL_KEY = (
    "detail_ref", "vulnerability_id", "fix_available", "exploit_available", "source",
)  # fmt: skip
"""The `findings` columns keying `finding_detail_counts` as they are (the scores are keyed by
`coalesce(score, -1)`)."""


FIX_COUNTS = ("fix_yes", "fix_partial", "exploit_yes")
"""The image rollups' counts of fix and exploit availability, beside the severity counts."""


def key_columns(table: Table) -> list[str]:
    """The columns of a rollup table's key: one row per value of them."""
    return [c.name for c in table.primary_key.columns]


def count_columns(table: Table) -> list[str]:
    """The columns of a rollup table that add up (the severity counts, and the fix and exploit
    counts of the tables that keep them): what an upsert adds and a read of the count log nets."""
    return [name for name in (*t.ROLLUP_SEVERITIES, *FIX_COUNTS) if name in table.c]


def _weight(rows: FromClause) -> ColumnElement[int]:
    """What one row counts: its `sign` in a count log, else 1."""
    sign: ColumnElement[int] = rows.c.sign if "sign" in rows.c else literal(1)
    return sign


def _count_if(rows: FromClause, condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, _weight(rows)), else_=0)), 0)


def _severity_counts(rows: FromClause) -> list[ColumnElement[int]]:
    return [_count_if(rows, rows.c.severity == s.upper()).label(s) for s in t.ROLLUP_SEVERITIES]


def _details_of(rows: FromClause) -> list[ColumnElement[bool]]:
    """For a count log's rows (a few thousand), the packages of their details only: without it
    PostgreSQL makes every detail's distinct names or layers before the join (the whole of
    `detail_packages`). `findings` (a rebuild, SQLite's batches) keeps the plans it had."""
    if rows is t.findings:
        return []
    return [t.detail_packages.c.detail_ref.in_(select(rows.c.detail_ref))]


def title_expression(dialect: str) -> ColumnElement[str]:
    """A detail's `title` (a column of `finding_details`, written with the document)."""
    del dialect
    title: ColumnElement[str] = t.finding_details.c.title
    return title


def _image_key(f: FromClause) -> tuple[ColumnElement[Any], ...]:
    """The columns that name one image's findings of one status."""
    return (f.c.account_id, f.c.region, f.c.status, f.c.repository_id, f.c.digest)


def image_source(
    where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_image_counts` computed from `rows` (those matching `where`)."""
    f = rows
    return select(*_image_key(f), *_image_counts(f)).where(*where).group_by(*_image_key(f))


def _image_counts(f: FromClause) -> list[ColumnElement[Any]]:
    """The columns the image rollups keep after their key: the repository's name, the fix and
    exploit counts (`FIX_COUNTS`), the severity counts."""
    return [
        func.max(f.c.repository_name).label("repository_name"),
        _count_if(f, f.c.fix_available == "YES").label("fix_yes"),
        _count_if(f, f.c.fix_available == "PARTIAL").label("fix_partial"),
        _count_if(f, f.c.exploit_available == "YES").label("exploit_yes"),
        *_severity_counts(f),
    ]


def layer_source(
    where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_layer_counts` computed from `rows` (those matching `where`)."""
    f, dp = rows, t.detail_packages
    layers = (
        select(dp.c.detail_ref, dp.c.source_layer_hash.label("layer_hash"))
        .where(dp.c.source_layer_hash.is_not(None), *_details_of(rows))
        .distinct()
        .subquery()
    )
    key = [*_image_key(f), layers.c.layer_hash, f.c.fix_available, f.c.exploit_available]
    return (
        select(
            *key,
            func.max(f.c.repository_name).label("repository_name"),
            *_severity_counts(f),
        )
        .join_from(f, layers, layers.c.detail_ref == f.c.detail_ref)
        .where(*where)
        .group_by(*key)
    )


def _per_detail(where: Sequence[ColumnElement[bool]], f: FromClause) -> Subquery:
    """Severity counts per (status, detail): findings sharing a detail (every image of a base
    layer) collapse before the join with packages or titles, a tenth of the rows or less."""
    return (
        select(
            f.c.account_id,
            f.c.region,
            f.c.status,
            f.c.vulnerability_id,
            f.c.detail_ref,
            *_severity_counts(f),
        )
        .where(*where)
        .group_by(f.c.account_id, f.c.region, f.c.status, f.c.vulnerability_id, f.c.detail_ref)
        .subquery("per_detail")
    )


def _sum_counts(source: Subquery) -> list[ColumnElement[int]]:
    return [func.sum(source.c[s]).label(s) for s in t.ROLLUP_SEVERITIES]


def package_source(
    where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_package_counts` computed from `rows` (those matching `where`)."""
    dp = t.detail_packages
    per = _per_detail(where, rows)
    names = (
        select(dp.c.detail_ref, dp.c.name.label("package_name"))
        .where(*_details_of(rows))
        .distinct()
        .subquery()
    )
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
    dialect: str, where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_title_counts` computed from `rows` (those matching `where`)."""
    d = t.finding_details
    per = _per_detail(where, rows)
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


def image_fix_source(
    where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_image_fix_counts` computed from `rows` (those matching `where`)."""
    f = rows
    key = [*_image_key(f), f.c.fix_available, f.c.exploit_available]
    return (
        select(*key, func.max(f.c.repository_name).label("repository_name"), *_severity_counts(f))
        .where(*where)
        .group_by(*key)
    )


def score_key(score: ColumnElement[Any]) -> ColumnElement[float]:
    """The key of a score in the detail and image score rollups: `coalesce(score, -1)` (a NULL
    key would never conflict; no score is negative)."""
    return func.coalesce(score, -1.0)


def image_score_source(
    where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_image_score_counts` computed from `rows` (those matching `where`)."""
    f = rows
    key = [*_image_key(f), score_key(f.c.inspector_score)]
    return (
        select(
            *key[:-1],
            key[-1].label("score_key"),
            func.max(f.c.inspector_score).label("inspector_score"),
            func.max(f.c.repository_name).label("repository_name"),
            *_severity_counts(f),
        )
        .where(*where)
        .group_by(*key)
    )


def first_second(dialect: str, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The whole second (`t.FIRST_SECOND`) `column`, a finding's `first_observed_at`, lies in:
    its key in `finding_image_first_counts`."""
    if dialect == "postgresql":
        return type_coerce(func.date_trunc("second", column), EPOCH_MICROS_TIMESTAMP)
    # SQLite's `%` truncates toward zero: this floors any sign, as Python's `//` does
    micros = type_coerce(column, BigInteger)
    n = t.FIRST_SECOND
    return type_coerce(micros - ((micros % n) + n) % n, EPOCH_MICROS_TIMESTAMP)


def image_first_source(
    dialect: str, where: Sequence[ColumnElement[bool]] = (), rows: FromClause = t.findings
) -> Select[tuple[object, ...]]:
    """`finding_image_first_counts` computed from `rows` (those matching `where`)."""
    f = rows
    second = first_second(dialect, f.c.first_observed_at)
    key = [*_image_key(f), second.label("first_observed_second")]
    return select(*key, *_image_counts(f)).where(*where).group_by(*_image_key(f), second)


def package_names(dialect: str, detail_ref: ColumnElement[str]) -> ColumnElement[str]:
    """The distinct package names of the detail `detail_ref` as a JSON array in name order
    (`finding_detail_counts.package_names`; `[]` for a detail without packages)."""
    dp = t.detail_packages
    if dialect == "postgresql":
        # PostgreSQL's dialect: 20 ms of imports a server on SQLite never needs
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        names = func.json_agg(aggregate_order_by(distinct(dp.c.name), dp.c.name))
        found = select(func.coalesce(cast(names, Text), "[]")).where(dp.c.detail_ref == detail_ref)
        return found.scalar_subquery()
    ordered = (
        select(dp.c.name)
        .where(dp.c.detail_ref == detail_ref)
        .distinct()
        .order_by(dp.c.name)
        .correlate_except(dp)
        .subquery("names")
    )
    return select(func.json_group_array(ordered.c.name)).scalar_subquery()


def detail_title(detail_ref: ColumnElement[str]) -> ColumnElement[str]:
    """The title of the detail `detail_ref` (NULL when it has none)."""
    d = t.finding_details
    return select(d.c.title).where(d.c.ref == detail_ref).scalar_subquery()


def detail_source(
    where: Sequence[ColumnElement[bool]] = (),
    rows: FromClause = t.findings,
    dialect: str = "sqlite",
) -> Select[tuple[object, ...]]:
    """`finding_detail_counts` computed from `rows` (those matching `where`)."""
    f = rows
    score = score_key(f.c.inspector_score)
    epss = score_key(f.c.epss_score)
    key = [f.c.account_id, f.c.region, f.c.status, *[f.c[c] for c in DETAIL_KEY]]
    return (
        select(
            *key,
            score.label("score_key"),
            epss.label("epss_key"),
            func.max(f.c.inspector_score).label("inspector_score"),
            func.max(f.c.epss_score).label("epss_score"),
            detail_title(f.c.detail_ref).label("title"),
            package_names(dialect, f.c.detail_ref).label("package_names"),
            *_severity_counts(f),
        )
        .where(*where)
        .group_by(*key, score, epss)
    )


def sources(
    dialect: str, rows: FromClause = t.findings, where: Sequence[ColumnElement[bool]] = ()
) -> list[tuple[Table, Select[tuple[object, ...]]]]:
    """Each rollup table with its contents computed from `rows` (those matching `where`)."""
    return [
        (t.finding_image_counts, image_source(where, rows)),
        (t.finding_layer_counts, layer_source(where, rows)),
        (t.finding_package_counts, package_source(where, rows)),
        (t.finding_title_counts, title_source(dialect, where, rows)),
        (t.finding_detail_counts, detail_source(where, rows, dialect)),
        (t.finding_image_fix_counts, image_fix_source(where, rows)),
        (t.finding_image_score_counts, image_score_source(where, rows)),
        (t.finding_image_first_counts, image_first_source(dialect, where, rows)),
    ]
