"""The SQL form of `model.finding_criteria.Criteria`: a condition on `tables.findings` rows.

Kept in step with the query surface's in-memory matcher (`queries.matcher`) by a property test. Index-friendly where it matters:
columns compared directly, PREFIX on SQLite as a range on the column's binary order (LIKE
ignores ASCII case there), tags / packages / push times as `IN (subquery)` so the planner may
drive the query from them. Fields of the detail document (title, vendor severity, related
vulnerabilities, package release / arch / epoch) are compared in the columns they are kept in
(`storage/sql/detail_columns.py`), once per detail; related vulnerabilities, a JSON array,
through small per-dialect constructs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    Integer,
    String,
    and_,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import replacement_traverse

from dockwatch.model.finding_criteria import (
    FINDING_TYPE,
    RESOURCE_TYPE,
    Comparison,
    Criteria,
    DateFilter,
    NumberFilter,
    PackageFilter,
    StringFilter,
    strings_hold,
)
from dockwatch.model.times import as_utc
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import IMAGE_KEY_LENGTH, IMAGE_KEY_START, image_key


class _RelatedHas(FunctionElement[Any]):
    """EXISTS an entry of a detail's `related_vulnerabilities` (a JSON array) equal to a value:
    (column, value)."""

    inherit_cache = True
    name = "dockwatch_related_has"
    type = NullType()


class _RelatedHasPrefix(FunctionElement[Any]):
    """EXISTS such an entry starting with a value: (column, value, length)."""

    inherit_cache = True
    name = "dockwatch_related_has_prefix"
    type = NullType()


class _TextHas(FunctionElement[Any]):
    """`column`'s text contains a value: (column, value)."""

    inherit_cache = True
    name = "dockwatch_text_has"
    type = NullType()


class _Prefix(FunctionElement[Any]):
    """`column` starts with a value: (column, value, length, low, high).

    SQLite's LIKE ignores ASCII case and GLOB needs escaping, so SQLite gets a range on the
    column's binary order (`low <= column < high`, which its indexes serve); other databases
    compare a substring."""

    inherit_cache = True
    name = "dockwatch_prefix"
    type = NullType()


def _array_source(element: FunctionElement[Any], compiler: SQLCompiler, kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


@compiles(_RelatedHas, "sqlite")
def _related_has_sqlite(element: _RelatedHas, compiler: SQLCompiler, **kw: Any) -> str:
    array, value = _array_source(element, compiler, kw)
    return (
        f"EXISTS (SELECT 1 FROM json_each(coalesce({array}, '[]')) AS je WHERE je.value = {value})"
    )


@compiles(_RelatedHas)
def _related_has_pg(element: _RelatedHas, compiler: SQLCompiler, **kw: Any) -> str:
    array, value = _array_source(element, compiler, kw)
    return (
        "EXISTS (SELECT 1 FROM jsonb_array_elements_text("
        f"coalesce({array}, '[]')::jsonb) "
        f"AS je(value) WHERE je.value = {value})"
    )


@compiles(_RelatedHasPrefix, "sqlite")
def _related_prefix_sqlite(element: _RelatedHasPrefix, compiler: SQLCompiler, **kw: Any) -> str:
    array, value, length = _array_source(element, compiler, kw)
    return (
        f"EXISTS (SELECT 1 FROM json_each(coalesce({array}, '[]')) AS je "
        f"WHERE substr(je.value, 1, {length}) = {value})"
    )


@compiles(_RelatedHasPrefix)
def _related_prefix_pg(element: _RelatedHasPrefix, compiler: SQLCompiler, **kw: Any) -> str:
    array, value, length = _array_source(element, compiler, kw)
    return (
        "EXISTS (SELECT 1 FROM jsonb_array_elements_text("
        f"coalesce({array}, '[]')::jsonb) "
        f"AS je(value) WHERE substr(je.value, 1, {length}) = {value})"
    )


@compiles(_TextHas, "sqlite")
def _text_has_sqlite(element: _TextHas, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = _array_source(element, compiler, kw)
    return f"(instr({column}, {value}) > 0)"


@compiles(_TextHas)
def _text_has_default(element: _TextHas, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = _array_source(element, compiler, kw)
    return f"(strpos({column}, {value}) > 0)"


_UNESCAPED = re.compile(r"[A-Za-z0-9._:+-]+")
"""Values no JSON encoder escapes: one stands in an array's text exactly as it is."""


@compiles(_Prefix, "sqlite")
def _prefix_sqlite(element: _Prefix, compiler: SQLCompiler, **kw: Any) -> str:
    column, _value, _length, low, high = _array_source(element, compiler, kw)
    return f"({column} >= {low} AND {column} < {high})"


@compiles(_Prefix)
def _prefix_default(element: _Prefix, compiler: SQLCompiler, **kw: Any) -> str:
    column, value, length, _low, _high = _array_source(element, compiler, kw)
    return f"(substr({column}, 1, {length}) = {value})"


def _successor(value: str) -> str | None:
    """The least string above every string that starts with `value` (code point order)."""
    chars = list(value)
    while chars:
        last = ord(chars.pop())
        nxt = last + 1
        if 0xD800 <= nxt <= 0xDFFF:
            nxt = 0xE000
        if nxt <= 0x10FFFF:
            return "".join(chars) + chr(nxt)
    return None


def prefix(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    high = _successor(value)
    if high is None:  # only U+10FFFF characters: no range, a plain substring test
        return func.substr(column, 1, len(value)) == value
    return _Prefix(
        column,
        literal(value, String),
        literal(len(value), Integer),
        literal(value, String),
        literal(high, String),
    )


def compare(
    column: ColumnElement[Any], f: StringFilter, *, nullable: bool = False
) -> ColumnElement[bool]:
    if f.comparison is Comparison.EQUALS:
        return column == f.value
    if f.comparison is Comparison.PREFIX:
        return prefix(column, f.value)
    if nullable:
        return or_(column.is_(None), column != f.value)
    return column != f.value


def combine(
    filters: Sequence[StringFilter], test: Callable[[StringFilter], ColumnElement[bool]]
) -> ColumnElement[bool]:
    positive = [test(f) for f in filters if f.comparison is not Comparison.NOT_EQUALS]
    negative = [test(f) for f in filters if f.comparison is Comparison.NOT_EQUALS]
    parts: list[ColumnElement[bool]] = []
    if positive:
        parts.append(or_(*positive))
    parts += negative
    return and_(true(), *parts)


def _constant(filters: Sequence[StringFilter], actual: str) -> ColumnElement[bool]:
    return true() if strings_hold(filters, actual) else false()


_ARN = re.compile(r"^arn:aws:inspector2:([^:]+):([^:]+):finding/(.+)$")
_IMAGE_ARN = re.compile(r"^arn:aws:ecr:([^:]+):([^:]+):repository/(.+)/([^/]+)$")

_COLUMNS = {
    "awsAccountId": "account_id",
    "ecrImageRegistry": "account_id",
    "severity": "severity",
    "findingStatus": "status",
    "ecrImageRepositoryName": "repository_name",
    "ecrImageHash": "digest",
    "vulnerabilityId": "vulnerability_id",
    "fixAvailable": "fix_available",
    "exploitAvailable": "exploit_available",
}


def _of_details(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """`detail_ref IN (the details meeting condition)`: evaluated once per detail, not once
    per finding (a tenth as many rows), and a source carrying `detail_ref` (the detail rollup)
    takes it as it is (`on_source`)."""
    d, f = t.finding_details, t.findings
    return f.c.detail_ref.in_(select(d.c.ref).where(condition))


def _equal_values(filters: Sequence[StringFilter]) -> list[str] | None:
    """The values of filters that are all EQUALS (one of them must hold), else None."""
    if not filters or any(s.comparison is not Comparison.EQUALS for s in filters):
        return None
    return sorted({s.value for s in filters})


def image_route(
    names: Sequence[str] | None = None, digests: Sequence[str] | None = None
) -> ColumnElement[bool]:
    """A term that adds nothing to an image filter but lets `ix_findings_image`
    (repository_id, image_key, ...) serve it: the ids of the repositories (named `names`; all
    of them when None), then the digests' image keys. Every finding's repository is a row of
    `repositories` (a foreign key), named as the finding says, and its image key is a function
    of its digest, so the filter's answer is the same; without it a digest or repository filter
    needs an index of its own (about 100 bytes a finding each at 1,000,000 findings)."""
    f, r = t.findings, t.repositories
    ids = select(r.c.id)
    if names is not None:
        ids = ids.where(r.c.name.in_(list(names)))
    route: ColumnElement[bool] = f.c.repository_id.in_(ids)
    if digests is not None:
        keys = sorted({image_key(d) for d in digests})
        route = and_(route, f.c.image_key.in_(keys), f.c.digest.in_(list(digests)))
    return route


def _string_sql(key: str, filters: Sequence[StringFilter]) -> ColumnElement[bool]:
    f = t.findings
    if key in _COLUMNS:
        column = f.c[_COLUMNS[key]]
        found = combine(filters, lambda s: compare(column, s))
        values = _equal_values(filters)
        if values is not None and key == "ecrImageHash":
            return and_(image_route(digests=values), found)
        if values is not None and key == "ecrImageRepositoryName":
            return and_(image_route(names=values), found)
        return found
    if key == "vulnerabilitySource":  # stored as "" when the detail names no source
        src = func.nullif(f.c.source, "")
        return combine(filters, lambda s: compare(src, s, nullable=True))
    if key == "findingType":
        return _constant(filters, FINDING_TYPE)
    if key == "resourceType":
        return _constant(filters, RESOURCE_TYPE)
    if key == "findingArn":
        arn = literal("arn:aws:inspector2:") + f.c.region + ":" + f.c.account_id + ":finding/"
        arn = arn + f.c.id

        def finding_arn(s: StringFilter) -> ColumnElement[bool]:
            parsed = _ARN.match(s.value)
            if s.comparison is not Comparison.PREFIX and parsed:
                same = and_(
                    f.c.region == parsed[1], f.c.account_id == parsed[2], f.c.id == parsed[3]
                )
                return same if s.comparison is Comparison.EQUALS else not_(same)
            return compare(arn, s)

        return combine(filters, finding_arn)
    if key == "resourceId":
        rid = (
            literal("arn:aws:ecr:") + f.c.region + ":" + f.c.account_id + ":repository/"
        ) + f.c.repository_name
        rid = rid + "/" + f.c.digest

        def resource_id(s: StringFilter) -> ColumnElement[bool]:
            parsed = _IMAGE_ARN.match(s.value)
            if s.comparison is not Comparison.PREFIX and parsed:
                same = and_(
                    f.c.region == parsed[1],
                    f.c.account_id == parsed[2],
                    f.c.repository_name == parsed[3],
                    f.c.digest == parsed[4],
                )
                if s.comparison is Comparison.EQUALS:
                    same = and_(image_route([parsed[3]], [parsed[4]]), same)
                return same if s.comparison is Comparison.EQUALS else not_(same)
            return compare(rid, s)

        return combine(filters, resource_id)
    if key == "ecrImageTags":  # IN (subquery): the planner may drive the query from the tags
        tg = t.tags

        def tagged(s: StringFilter) -> ColumnElement[bool]:
            test = (
                prefix(tg.c.name, s.value)
                if s.comparison is Comparison.PREFIX
                else tg.c.name == s.value
            )
            found = tuple_(f.c.repository_id, f.c.digest).in_(
                select(tg.c.repository_id, tg.c.manifest_digest).where(test)
            )
            if s.comparison is Comparison.NOT_EQUALS:
                return not_(found)
            return and_(image_keys_in(tg.c.repository_id, tg.c.manifest_digest, test), found)

        return combine(filters, tagged)
    d = t.finding_details
    if key in ("title", "vendorSeverity"):
        value = d.c.title if key == "title" else d.c.vendor_severity
        return _of_details(combine(filters, lambda s: compare(value, s, nullable=True)))
    if key == "relatedVulnerabilities":
        related_column = d.c.related_vulnerabilities

        def related(s: StringFilter) -> ColumnElement[bool]:
            found: ColumnElement[bool]
            if s.comparison is Comparison.PREFIX:
                found = _RelatedHasPrefix(
                    related_column, literal(s.value, String), literal(len(s.value), Integer)
                )
            else:
                found = _RelatedHas(related_column, literal(s.value, String))
            if _UNESCAPED.fullmatch(s.value):
                # an entry equal to or starting with such a value puts it in the array's text:
                # a text search first, and the array is parsed only for details that pass it
                # (146,300 details: 75 -> 27 ms of CPU on SQLite for a prefix few of them hold)
                found = and_(_TextHas(related_column, literal(s.value, String)), found)
            return not_(found) if s.comparison is Comparison.NOT_EQUALS else found

        return _of_details(combine(filters, related))
    raise AssertionError(f"no SQL for {key}")  # pragma: no cover - KEYS and this list agree


def _range(column: ColumnElement[Any], low: Any | None, high: Any | None) -> ColumnElement[bool]:
    parts = [column.is_not(None)]
    if low is not None:
        parts.append(column >= low)
    if high is not None:
        parts.append(column <= high)
    return and_(*parts)


def _date_sql(key: str, filters: Sequence[DateFilter]) -> ColumnElement[bool]:
    f = t.findings
    columns = {
        "firstObservedAt": f.c.first_observed_at,
        "lastObservedAt": f.c.last_observed_at,
        "updatedAt": f.c.updated_at,
    }

    def one(column: ColumnElement[Any], d: DateFilter) -> ColumnElement[bool]:
        return _range(
            column,
            None if d.start is None else as_utc(d.start),
            None if d.end is None else as_utc(d.end),
        )

    if key in columns:
        return or_(*[one(columns[key], d) for d in filters])
    m = t.manifests
    pushed = or_(*[one(m.c.image_pushed_at, d) for d in filters])
    return and_(
        image_keys_in(m.c.repository_id, m.c.digest, pushed),
        tuple_(f.c.repository_id, f.c.digest).in_(
            select(m.c.repository_id, m.c.digest).where(pushed)
        ),
    )


def image_keys_in(
    repository: ColumnElement[int], digest: ColumnElement[str], where: ColumnElement[bool]
) -> ColumnElement[bool]:
    """`(image_key, repository_id) IN (...)` of the images (`repository`, `digest`) chosen by
    `where`: adds nothing to the exact (repository, digest) pair beside it, but lets
    `ix_findings_image` seek each image's findings instead of reading each repository's.

    Spelled so that SQLite (3.40) seeks both columns: with the repository id first it sought
    the repository alone and tested every finding of it, and a key without the column's type
    (`substr`'s result) made it scan the table. `ecrImageTags` EQUALS latest at 1,000,000
    findings (500 images of 10,000): its 50,000 findings counted in 182 -> 24 ms of CPU, PACKAGE
    and TITLE so filtered 325 -> 160 and 377 -> 199 (with another process busy beside)."""
    f = t.findings
    key = cast(func.substr(digest, IMAGE_KEY_START, IMAGE_KEY_LENGTH), String(IMAGE_KEY_LENGTH))
    return tuple_(f.c.image_key, f.c.repository_id).in_(select(key, repository).where(where))


def _number_sql(key: str, filters: Sequence[NumberFilter]) -> ColumnElement[bool]:
    f = t.findings
    column = f.c.inspector_score if key == "inspectorScore" else f.c.epss_score
    return or_(*[_range(column, n.lower, n.upper) for n in filters])


def _package_sql(filters: Sequence[PackageFilter]) -> ColumnElement[bool]:
    """`detail_ref IN (details naming such a package)`: a package name drives the query
    through `ix_detail_packages_name` and `ix_findings_detail`."""
    f, dp = t.findings, t.detail_packages
    options: list[ColumnElement[bool]] = []
    for p in filters:
        conds: list[ColumnElement[bool]] = []
        for attr, column, nullable in (
            ("name", dp.c.name, False),
            ("version", dp.c.version, False),
            ("source_layer_hash", dp.c.source_layer_hash, True),
            ("file_path", dp.c.file_path, True),
            ("release", dp.c.release, True),
            ("architecture", dp.c.arch, True),
        ):
            sf = getattr(p, attr)
            if sf is not None:
                conds.append(compare(column, sf, nullable=nullable))
        if p.epoch is not None:
            conds.append(_range(dp.c.epoch, p.epoch.lower, p.epoch.upper))
        query = select(dp.c.detail_ref)
        options.append(f.c.detail_ref.in_(query.where(*conds)))
    return or_(*options)


def on_source(condition: ColumnElement[bool], source: FromClause) -> ColumnElement[bool]:
    """`condition` (on `tables.findings`) with each findings column replaced by the
    same-named column of `source` (a rollup table that carries it; the image key, which image
    filters name for `ix_findings_image`, computed from the source's digest where it has none)."""
    f = t.findings

    def swap(element: Any, **_kw: Any) -> Any:
        if isinstance(element, Column) and element.table is f:
            if element.name == "image_key" and "image_key" not in source.c:
                return func.substr(source.c.digest, IMAGE_KEY_START, IMAGE_KEY_LENGTH)
            return source.c[element.name]
        return None

    return replacement_traverse(condition, {}, swap)


def unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column behind SQLite's unary `+`: same value, but no index may serve it."""
    name = getattr(column, "name", None)
    table = getattr(getattr(column, "table", None), "name", None)
    if not isinstance(name, str) or not isinstance(table, str):
        return column
    return literal_column(f"+{table}.{name}", column.type)


def sql_filter(criteria: Criteria) -> ColumnElement[bool]:
    """The criteria as a condition on `tables.findings` rows (tags, packages and push times
    through `IN (subquery)` on their indexes, JSON-only fields through the detail document);
    `true()` for empty criteria."""
    parts: list[ColumnElement[bool]] = []
    for key, strings in criteria.strings.items():
        parts.append(_string_sql(key, strings))
    for key, dates in criteria.dates.items():
        parts.append(_date_sql(key, dates))
    for key, numbers in criteria.numbers.items():
        parts.append(_number_sql(key, numbers))
    if criteria.packages:
        parts.append(_package_sql(criteria.packages))
    return and_(true(), *parts)
