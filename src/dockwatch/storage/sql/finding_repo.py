"""SQL for findings: rows per image resource, content-addressed details, their packages.

A finding row holds what differs per image resource (status, timestamps, the columns filters and
aggregations use); its content lives in `finding_details` under a hash, shared by every image
whose finding reads the same. Writes are batched (`executemany`), because a feed update can
touch tens of thousands of images at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Connection,
    bindparam,
    select,
    update,
)

from dockwatch.model.identity import Tenant
from dockwatch.model.package import Package
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.finding_repo import (
    DetailPackage,
    FindingRow,
    FindingState,
    ImageFacts,
    NewDetail,
    NewFinding,
    Purged,
    RuleRecord,
    StoredRow,
    SuppressionCandidate,
    detail_document,
)
from dockwatch.storage.sql import (
    finding_purge,
    finding_tenants,
    finding_writes,
    image_counts,
    rollup_batches,
    suppression_rules,
)
from dockwatch.storage.sql.batching import chunks
from dockwatch.storage.sql.detail_columns import (
    PACKAGE_COLUMNS,
    detail_columns,
    package_columns,
)
from dockwatch.storage.sql.image_holds import hold_images
from dockwatch.storage.sql.inventory_packages import load_packages, package_pairs, put_packages
from dockwatch.storage.sql.schema.detail_document import unpack as unpack_document
from dockwatch.storage.sql.schema.findings import image_key
from dockwatch.storage.sql.shared_rows import add_missing
from dockwatch.storage.sql.stored_findings import (
    open_findings_with_details,
    stored_for_vulnerabilities,
    stored_of,
)

__all__ = [
    "FindingRow", "SqlFindingRepo", "StoredRow", "detail_document", "details_with_packages",
    "findings_of", "image_facts", "insert_details", "insert_findings", "load_details",
    "load_packages", "missing_details", "open_findings_with_details", "package_pairs",
    "package_refs_of_details", "put_packages", "stored_for_vulnerabilities", "stored_of",
    "update_findings",
]  # fmt: skip

if TYPE_CHECKING:
    from dockwatch.model.finding_criteria import Criteria
from dockwatch.storage.sql import tables as t


def _marks(conn: Connection, n: int) -> str:
    """`n` driver placeholders for an IN list of plain SQL (SQLAlchemy's expanding IN and row
    objects cost more than the queries of a rescan reading thousands of rows)."""
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def details_with_packages(conn: Connection, pkg_refs: Sequence[str]) -> set[str]:
    """The finding details that name one of the packages."""
    details: set[str] = set()
    for part in chunks(sorted(set(pkg_refs))):
        details.update(
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT DISTINCT detail_ref FROM detail_packages "
                f"WHERE pkg_ref IN ({_marks(conn, len(part))})",
                tuple(part),
            )
        )
    return details


def package_refs_of_details(conn: Connection, refs: Sequence[str]) -> dict[str, set[str]]:
    """The package refs each finding detail names."""
    dp = t.detail_packages
    out: dict[str, set[str]] = {}
    for part in chunks(sorted(set(refs))):
        for r in conn.execute(
            select(dp.c.detail_ref, dp.c.pkg_ref).where(dp.c.detail_ref.in_(part))
        ):
            out.setdefault(r.detail_ref, set()).add(r.pkg_ref)
    return out


def missing_details(conn: Connection, refs: Iterable[str]) -> set[str]:
    """Those of `refs` not stored yet."""
    wanted = sorted(set(refs))
    have: set[str] = set()
    for part in chunks(wanted):
        have |= {
            r.ref
            for r in conn.execute(
                select(t.finding_details.c.ref).where(t.finding_details.c.ref.in_(part))
            )
        }
    return set(wanted) - have


def insert_details(
    conn: Connection,
    details: Mapping[str, tuple[bytes, Sequence[Mapping[str, Any]]]],
    at: datetime,
) -> None:
    """Store new details: ref -> (document, package rows for `detail_packages`). The fields
    filters compare are kept in columns too (`detail_columns`; the rollup triggers read the
    title for every finding written). Two writers may store one detail at once (scans of
    images sharing a layer): the second leaves it (`shared_rows`), keys in sorted order."""
    if not details:
        return
    detail_rows: list[dict[str, Any]] = []
    package_rows: list[dict[str, Any]] = []
    for ref in sorted(details):
        doc, packages = details[ref]
        document = orjson.loads(doc)
        detail_rows.append({"ref": ref, "doc": doc, "created_at": at, **detail_columns(document)})
        extra = package_columns(document)
        for seq, pkg in enumerate(packages):
            more = extra[seq] if seq < len(extra) else dict.fromkeys(PACKAGE_COLUMNS)
            package_rows.append({"detail_ref": ref, "seq": seq, **pkg, **more})
    add_missing(conn, t.finding_details, detail_rows, ("ref",))
    add_missing(conn, t.detail_packages, package_rows, ("detail_ref", "seq"))


def load_details(conn: Connection, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Detail documents by ref."""
    out: dict[str, dict[str, Any]] = {}
    d = t.finding_details
    for part in chunks(sorted(set(refs))):
        for r in conn.execute(select(d.c.ref, d.c.doc).where(d.c.ref.in_(part))):
            out[r.ref] = orjson.loads(r.doc)
    return out


_ADVISORY = re.compile(rb'"advisory"\s*:\s*("(?:[^"\\]|\\.)*")')


def details_naming(conn: Connection, refs: Iterable[str], advisories: Iterable[str]) -> set[str]:
    """The details whose evidence names one of the advisories. Only the documents whose text
    holds one of them are parsed (a rescan asks about thousands of details sharing the changed
    packages, and parsing them all cost 30 us each)."""
    wanted = set(advisories)
    if not wanted:
        return set()
    out: set[str] = set()
    for part in chunks(sorted(set(refs))):
        for ref, doc in conn.exec_driver_sql(
            f"SELECT ref, doc FROM finding_details WHERE ref IN ({_marks(conn, len(part))})",
            tuple(part),
        ):
            doc = unpack_document(doc)  # read past the column's type: as stored
            named = {orjson.loads(m) for m in _ADVISORY.findall(doc)}
            if not named & wanted:
                continue
            parsed = orjson.loads(doc)
            if any(e.get("advisory") in wanted for e in parsed.get("evidence", ())):
                out.add(ref)
    return out


def insert_findings(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store new findings (each a dict of `findings` columns; `tenant_key`, when a row lacks
    it, is its tenant's, `storage/sql/finding_tenants.py`)."""
    if rows:
        keys = finding_tenants.ensure_keys(
            conn, {Tenant(r["account_id"], r["region"]) for r in rows if "tenant_key" not in r}
        )
        if keys:
            rows = [
                r if "tenant_key" in r else {
                    **r, "tenant_key": keys[Tenant(r["account_id"], r["region"])]
                }
                for r in rows
            ]  # fmt: skip
        with rollup_batches.counted_once(conn, [r["id"] for r in rows], new=True):
            conn.execute(t.findings.insert(), list(rows))


def update_findings(
    conn: Connection, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Set `columns` on many findings at once; each row has `b_id` plus `b_<column>` values."""
    if not rows:
        return
    f = t.findings
    stmt = (
        update(f)
        .where(f.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in columns})
    )
    ids = [r["b_id"] for r in rows] if set(columns) & rollup_batches.COUNTED else []
    with rollup_batches.counted_once(conn, ids):
        conn.execute(stmt.execution_options(synchronize_session=False), list(rows))


def findings_of(conn: Connection, repository_id: int, digest: str) -> list[FindingRow]:
    """Every finding (any status) of an image resource with its content, newest generation last."""
    f, d = t.findings, t.finding_details
    rows = conn.execute(
        select(f, d.c.doc)
        .join(d, d.c.ref == f.c.detail_ref)
        .where(
            f.c.repository_id == repository_id,
            f.c.image_key == image_key(digest),
            f.c.digest == digest,
        )
        .order_by(f.c.vulnerability_id, f.c.generation)
    )
    return [
        FindingRow(
            r.id,
            r.repository_name,
            r.digest,
            r.vulnerability_id,
            r.generation,
            r.status,
            r.severity,
            r.fix_available,
            as_utc(r.first_observed_at),
            as_utc(r.last_observed_at),
            as_utc(r.updated_at),
            as_utc_or_none(r.closed_at),
            r.detail_ref,
            r.suppressed_by,
            orjson.loads(r.doc),
        )  # fmt: skip
        for r in rows
    ]


def image_facts(
    conn: Connection, resources: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], ImageFacts]:
    """Tags (sorted by name) and push time of the (repository id, digest) images that exist.

    The images asked are joined as a list of rows (`WITH wanted ... AS (VALUES ...)`), each
    found by its index. Asked as `(repository_id, digest) IN ((?, ?), ...)`, SQLite read every
    tag (in name order, for the sort) and every manifest once per 400 images: at 20,000 images
    with a tag each, the 18,712 images of a rescan took 0.20-0.22 s for their tags and 0.14 s
    for their push times, 0.03-0.04 s each joined, and the scans grow with the images times
    the images asked."""
    tags: dict[tuple[int, str], list[str]] = {}
    pushed: dict[tuple[int, str], datetime | None] = {}
    dialect = conn.dialect
    parse = t.manifests.c.image_pushed_at.type.dialect_impl(dialect).result_processor(dialect, None)
    for part in chunks(sorted(set(resources)), 400):
        pairs = ", ".join([f"({_marks(conn, 2)})"] * len(part))
        wanted = f"WITH wanted (repository_id, digest) AS (VALUES {pairs}) "
        values = tuple(v for key in part for v in key)
        for repository_id, digest, name in conn.exec_driver_sql(
            f"{wanted}SELECT t.repository_id, t.manifest_digest, t.name FROM wanted "
            "JOIN tags t ON t.repository_id = wanted.repository_id "
            "AND t.manifest_digest = wanted.digest ORDER BY t.name",
            values,
        ):
            tags.setdefault((repository_id, digest), []).append(name)
        for repository_id, digest, at in conn.exec_driver_sql(
            f"{wanted}SELECT m.repository_id, m.digest, m.image_pushed_at FROM wanted "
            "JOIN manifests m ON m.repository_id = wanted.repository_id "
            "AND m.digest = wanted.digest",
            values,
        ):
            pushed[(repository_id, digest)] = as_utc_or_none(
                at if parse is None or at is None else parse(at)
            )
    return {
        key: ImageFacts(tuple(tags.get(key, ())), pushed.get(key))
        for key in sorted(set(resources))
        if key in tags or key in pushed
    }


_PACKAGE_FIELDS = tuple(f.name for f in fields(DetailPackage))
"""(`dataclasses.asdict` deep-copies each value: a tenth of a second per thousand details.)"""


class SqlFindingRepo:
    """`storage.finding_repo.FindingRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def hold_images(self, resources: Sequence[tuple[int, str]]) -> None:
        hold_images(self._conn, resources)

    def stored_of(self, resources: Sequence[tuple[int, str]]) -> list[StoredRow]:
        return stored_of(self._conn, resources)

    def stored_for_vulnerabilities(self, vulns: Sequence[str]) -> list[StoredRow]:
        return stored_for_vulnerabilities(self._conn, vulns)

    def findings_of(self, repository_id: int, digest: str) -> list[FindingRow]:
        return findings_of(self._conn, repository_id, digest)

    def active_counts(
        self, tenant: Tenant, repository_id: int, digests: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        return image_counts.active_counts(self._conn, tenant, repository_id, digests)

    def details_with_packages(self, pkg_refs: Sequence[str]) -> set[str]:
        return details_with_packages(self._conn, pkg_refs)

    def open_findings_with_details(self, detail_refs: Sequence[str]) -> list[StoredRow]:
        return open_findings_with_details(self._conn, detail_refs)

    def package_refs_of_details(self, refs: Sequence[str]) -> dict[str, set[str]]:
        return package_refs_of_details(self._conn, refs)

    def missing_details(self, refs: Iterable[str]) -> set[str]:
        return missing_details(self._conn, refs)

    def insert_details(self, details: Sequence[NewDetail], at: datetime) -> None:
        insert_details(
            self._conn,
            {
                d.ref: (d.doc, [{f: getattr(p, f) for f in _PACKAGE_FIELDS} for p in d.packages])
                for d in details
            },
            at,
        )

    def load_details(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        return load_details(self._conn, refs)

    def details_naming(self, refs: Iterable[str], advisories: Iterable[str]) -> set[str]:
        return details_naming(self._conn, refs, advisories)

    def insert_findings(self, findings: Sequence[NewFinding]) -> None:
        finding_writes.insert_findings(self._conn, findings)

    def room_for(self, writes: int) -> AbstractContextManager[None]:
        return finding_writes.page_cache_for(self._conn, writes)

    def set_states(self, states: Mapping[str, FindingState]) -> None:
        finding_writes.set_states(self._conn, states)

    def mark_observed(self, ids: Sequence[str], at: datetime) -> None:
        finding_writes.update_ids(self._conn, ids, {"last_observed_at": at})

    def close(self, ids: Sequence[str], at: datetime) -> None:
        finding_writes.update_ids(
            self._conn,
            ids,
            {"status": "CLOSED", "closed_at": at, "updated_at": at, "suppressed_by": None},
        )

    def image_facts(
        self, resources: Sequence[tuple[int, str]]
    ) -> dict[tuple[int, str], ImageFacts]:
        return image_facts(self._conn, resources)

    def put_packages(self, docs: Mapping[str, bytes]) -> None:
        put_packages(self._conn, docs)

    def load_packages(self, refs: Iterable[str]) -> dict[str, Package]:
        return load_packages(self._conn, refs)

    def package_pairs(self, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return package_pairs(self._conn, keys)

    def purge_closed(
        self, tenant: Tenant, now: datetime, *, closed_after: timedelta, gone_after: timedelta
    ) -> Purged:
        return finding_purge.purge_closed(
            self._conn, tenant, now, closed_after=closed_after, gone_after=gone_after
        )

    def rules_in_force(self, tenant: Tenant, now: datetime) -> list[RuleRecord]:
        return suppression_rules.rules_in_force(self._conn, tenant, now)

    def find_rule(self, tenant: Tenant, rule_id: str) -> RuleRecord | None:
        return suppression_rules.find(self._conn, tenant, rule_id)

    def rule_named(self, tenant: Tenant, name: str) -> str | None:
        return suppression_rules.named(self._conn, tenant, name)

    def insert_rule(self, tenant: Tenant, rule: RuleRecord) -> None:
        suppression_rules.insert(self._conn, tenant, rule)

    def replace_rule(self, tenant: Tenant, rule: RuleRecord) -> None:
        suppression_rules.replace(self._conn, tenant, rule)

    def delete_rule(self, tenant: Tenant, rule_id: str) -> None:
        suppression_rules.delete(self._conn, tenant, rule_id)

    def list_rules(
        self,
        tenant: Tenant,
        *,
        action: str | None,
        arns: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[RuleRecord]:
        return suppression_rules.page(
            self._conn, tenant, action=action, arns=arns, after=after, limit=limit
        )

    def due_rules(self, tenant: Tenant, now: datetime, limit: int | None = None) -> list[str]:
        return suppression_rules.due(self._conn, tenant, now, limit)

    def mark_rule_expired(self, tenant: Tenant, rule_id: str, at: datetime) -> None:
        suppression_rules.mark_expired(self._conn, tenant, rule_id, at)

    def suppression_candidates(
        self,
        tenant: Tenant,
        *,
        suppressed_by: str | None = None,
        active_matching: Criteria | None = None,
    ) -> dict[str, SuppressionCandidate]:
        return suppression_rules.candidates(
            self._conn, tenant, suppressed_by=suppressed_by, active_matching=active_matching
        )

    def ids_matching(self, ids: Sequence[str], criteria: Criteria) -> set[str]:
        return suppression_rules.ids_matching(self._conn, ids, criteria)

    def set_suppression(
        self, changes: Mapping[str, tuple[str, str | None]], at: datetime | None
    ) -> None:
        if at is None:
            rows = [{"b_id": i, "b_suppressed_by": rule} for i, (_, rule) in changes.items()]
            update_findings(self._conn, ["suppressed_by"], rows)
            return
        changed: list[dict[str, Any]] = [
            {"b_id": i, "b_status": status, "b_suppressed_by": rule, "b_updated_at": at}
            for i, (status, rule) in changes.items()
        ]
        update_findings(self._conn, ["status", "suppressed_by", "updated_at"], changed)
