"""Aggregation counts summed from `finding_detail_counts`, for criteria on what a finding is.

A filter on fix or exploit availability, scores, the vulnerability, its source, title or
packages reads only columns the detail rollup keeps per (status, detail): the rows are filtered
there (a few hundred thousand at most, one per detail) and their counts summed, instead of
reading every matching finding (1,000,000 findings share about 100,000 details). Each source has
the columns of the rollup table its grain reads otherwise, so `aggregation_sql` reads either
alike. Grains of an image (REPOSITORY, AWS_ECR_CONTAINER, IMAGE_LAYER) cannot come from here:
the detail rollup does not know which images hold a detail.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    case,
    cast,
    func,
    literal,
    select,
    true,
)

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t

_SEVERITIES = t.ROLLUP_SEVERITIES


class FromDetails:
    """Sources for one tenant: the detail rollup rows of `statuses` meeting `where` (conditions
    on the columns of `rows`: `finding_detail_counts`, or on PostgreSQL that table with the
    count log's rows not folded yet, `pg_rollups.current`)."""

    def __init__(
        self,
        tenant: Tenant,
        statuses: Collection[str],
        where: Sequence[ColumnElement[bool]],
        rows: FromClause = t.finding_detail_counts,
    ) -> None:
        r = self.rows = rows
        self.tenant = tenant
        self.where = [
            r.c.account_id == tenant.account_id,
            r.c.region == tenant.region,
            r.c.status.in_(sorted(statuses)),
            *where,
        ]

    def _tenant(self) -> list[ColumnElement[Any]]:
        return [
            literal(self.tenant.account_id).label("account_id"),
            literal(self.tenant.region).label("region"),
        ]

    def account(self, severities: Collection[str] | None) -> Select[Any]:
        """Image-rollup columns summed per status; fix and exploit counts of the chosen
        `severities` only (None: all), which the image rollup cannot split."""
        r = self.rows
        chosen = [s for s in _SEVERITIES if severities is None or s.upper() in severities]
        total: ColumnElement[int] = sum((r.c[s] for s in chosen[1:]), r.c[chosen[0]])

        def when(condition: ColumnElement[bool]) -> ColumnElement[int]:
            return func.coalesce(func.sum(case((condition, total), else_=0)), 0)

        return (
            select(
                *self._tenant(),
                r.c.status,
                when(r.c.fix_available == "YES").label("fix_yes"),
                when(r.c.fix_available == "PARTIAL").label("fix_partial"),
                when(r.c.exploit_available == "YES").label("exploit_yes"),
                *[func.sum(r.c[s]).label(s) for s in _SEVERITIES],
            )
            .where(*self.where)
            .group_by(r.c.status)
        )

    def _sums(self) -> list[ColumnElement[int]]:
        r = self.rows
        return [func.sum(r.c[s]).label(s) for s in _SEVERITIES]

    def package(self, dialect: str) -> Select[Any]:
        """`finding_package_counts` columns: a finding counts once per package name. Each row
        names its detail's distinct package names itself (`package_names`, a JSON array,
        unnested by the dialect's JSON table function). At 1,000,000 findings, fixAvailable=YES
        (64,000 rows): PostgreSQL joined them with `detail_packages` by two hash joins over the
        whole table (the names, then a first-of-its-name check), 236 -> 71 ms; SQLite joined
        them row by row through the covering `ix_detail_packages_detail_name`, 100 -> 71 ms of
        CPU (docs/findings.md)."""
        r = self.rows
        if dialect == "postgresql":
            # PostgreSQL's dialect: 20 ms of imports a server on SQLite never needs
            from sqlalchemy.dialects.postgresql import JSON

            unnested = func.json_array_elements_text(cast(r.c.package_names, JSON))
        else:
            unnested = func.json_each(r.c.package_names)
        name = unnested.table_valued("value").alias("names")
        return (
            select(*self._tenant(), r.c.status, name.c.value.label("package_name"), *self._sums())
            .select_from(r.join(name, true()))
            .where(*self.where)
            .group_by(r.c.status, name.c.value)
        )

    def title(self) -> Select[Any]:
        """`finding_title_counts` columns (the detail's title, else the vulnerability id), from
        the row's own `title`: no join with `finding_details` (1,000,000 findings,
        fixAvailable=YES: PostgreSQL 188 -> 126 ms under load, SQLite 104 -> 84 ms of CPU)."""
        r = self.rows
        title = func.coalesce(r.c.title, r.c.vulnerability_id)
        return (
            select(
                *self._tenant(),
                r.c.status,
                r.c.vulnerability_id,
                title.label("title"),
                *self._sums(),
            )
            .where(*self.where)
            .group_by(r.c.status, r.c.vulnerability_id, title)
        )
