"""SQL for the vulnerability database: advisories, their affected packages, versions, deltas.

Each advisory is stored once per source with the fingerprint of its normalized content; its
affected entries are rows keyed by (ecosystem, package name) so a package lookup is one index
probe. Every import that changes anything gets a new database version and one row per changed
advisory in `vuln_changes` (the delta continuous scanning consumes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, tuple_, update

from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql import tables as t


@dataclass(frozen=True, slots=True)
class StoredAdvisory:
    """The part of a stored advisory an import compares against."""

    fingerprint: str
    withdrawn: bool
    package_keys: frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AdvisoryRow:
    """An advisory to write: its content and its affected entries as (ecosystem, name, entry)."""

    id: str
    fingerprint: str
    withdrawn: bool
    modified: datetime | None
    content: dict[str, Any]
    affected: Sequence[tuple[str, str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """One affected entry as read back for matching."""

    source: str
    advisory_id: str
    ecosystem: str
    name: str
    entry: dict[str, Any]


def stored_advisories(conn: Connection, source: str) -> dict[str, StoredAdvisory]:
    """Every advisory of `source` with its fingerprint and package keys."""
    keys: dict[str, set[tuple[str, str]]] = {}
    for r in conn.execute(
        select(
            t.vuln_affected.c.advisory_id, t.vuln_affected.c.ecosystem, t.vuln_affected.c.name
        ).where(t.vuln_affected.c.source == source)
    ):
        keys.setdefault(r.advisory_id, set()).add((r.ecosystem, r.name))
    return {
        r.id: StoredAdvisory(r.fingerprint, bool(r.withdrawn), frozenset(keys.get(r.id, ())))
        for r in conn.execute(
            select(
                t.vuln_advisories.c.id,
                t.vuln_advisories.c.fingerprint,
                t.vuln_advisories.c.withdrawn,
            ).where(t.vuln_advisories.c.source == source)
        )
    }


def new_version(conn: Connection, source: str, summary: dict[str, Any], at: datetime) -> int:
    """Create the next database version."""
    result = conn.execute(
        insert(t.vuln_versions).values(
            created_at=at, source=source, summary=orjson.dumps(summary).decode()
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def current_version(conn: Connection) -> int:
    """The newest database version (0 for an empty database)."""
    return int(conn.execute(select(func.max(t.vuln_versions.c.version))).scalar() or 0)


def version_created_at(conn: Connection, version: int) -> datetime | None:
    """When a database version was made."""
    return as_utc_or_none(
        conn.execute(
            select(t.vuln_versions.c.created_at).where(t.vuln_versions.c.version == version)
        ).scalar()
    )


def write_advisories(
    conn: Connection, source: str, rows: Sequence[AdvisoryRow], version: int
) -> None:
    """Replace these advisories (and their affected rows) of `source`."""
    if not rows:
        return
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(
            delete(t.vuln_affected).where(
                t.vuln_affected.c.source == source, t.vuln_affected.c.advisory_id.in_(chunk)
            )
        )
        conn.execute(
            delete(t.vuln_advisories).where(
                t.vuln_advisories.c.source == source, t.vuln_advisories.c.id.in_(chunk)
            )
        )
    conn.execute(
        insert(t.vuln_advisories),
        [
            {
                "source": source,
                "id": r.id,
                "fingerprint": r.fingerprint,
                "withdrawn": r.withdrawn,
                "modified": r.modified,
                "version": version,
                "content": orjson.dumps(r.content),
            }
            for r in rows
        ],
    )
    affected = [
        {
            "source": source,
            "advisory_id": r.id,
            "ecosystem": eco,
            "name": name,
            "entry": orjson.dumps(entry),
        }
        for r in rows
        for eco, name, entry in r.affected
    ]
    if affected:
        conn.execute(insert(t.vuln_affected), affected)


def delete_advisories(conn: Connection, source: str, ids: Iterable[str]) -> None:
    """Remove advisories a complete feed no longer lists."""
    chunk = list(ids)
    for start in range(0, len(chunk), 500):
        part = chunk[start : start + 500]
        conn.execute(
            delete(t.vuln_affected).where(
                t.vuln_affected.c.source == source, t.vuln_affected.c.advisory_id.in_(part)
            )
        )
        conn.execute(
            delete(t.vuln_advisories).where(
                t.vuln_advisories.c.source == source, t.vuln_advisories.c.id.in_(part)
            )
        )


def record_changes(
    conn: Connection,
    version: int,
    source: str,
    changes: Sequence[tuple[str, str, Sequence[tuple[str, str]]]],
) -> None:
    """One delta row per changed advisory: (advisory id, change, package keys before and after)."""
    if changes:
        conn.execute(
            insert(t.vuln_changes),
            [
                {
                    "version": version,
                    "source": source,
                    "advisory_id": aid,
                    "change": change,
                    "package_keys": orjson.dumps(sorted(keys)).decode(),
                }
                for aid, change, keys in changes
            ],
        )


def changes_between(
    conn: Connection, after: int, upto: int
) -> list[tuple[int, str, str, str, list[list[str]]]]:
    """Delta rows of versions in (after, upto]: (version, source, advisory id, change, keys)."""
    rows = conn.execute(
        select(t.vuln_changes)
        .where(t.vuln_changes.c.version > after, t.vuln_changes.c.version <= upto)
        .order_by(t.vuln_changes.c.version)
    )
    return [
        (r.version, r.source, r.advisory_id, r.change, orjson.loads(r.package_keys)) for r in rows
    ]


def affected_for(conn: Connection, keys: Iterable[tuple[str, str]]) -> list[AffectedRow]:
    """Affected entries of non-withdrawn advisories for the given (ecosystem, name) keys."""
    wanted = list(set(keys))
    out: list[AffectedRow] = []
    a, adv = t.vuln_affected, t.vuln_advisories
    for start in range(0, len(wanted), 400):
        part = wanted[start : start + 400]
        rows = conn.execute(
            select(a.c.source, a.c.advisory_id, a.c.ecosystem, a.c.name, a.c.entry)
            .join(adv, (adv.c.source == a.c.source) & (adv.c.id == a.c.advisory_id))
            .where(tuple_(a.c.ecosystem, a.c.name).in_(part), adv.c.withdrawn.is_(False))
        )
        out.extend(
            AffectedRow(r.source, r.advisory_id, r.ecosystem, r.name, orjson.loads(r.entry))
            for r in rows
        )
    return out


def all_affected(conn: Connection) -> Iterable[AffectedRow]:
    """Every affected entry of every non-withdrawn advisory (to build an in-memory index)."""
    a, adv = t.vuln_affected, t.vuln_advisories
    rows = conn.execute(
        select(a.c.source, a.c.advisory_id, a.c.ecosystem, a.c.name, a.c.entry)
        .join(adv, (adv.c.source == a.c.source) & (adv.c.id == a.c.advisory_id))
        .where(adv.c.withdrawn.is_(False))
    )
    for r in rows:
        yield AffectedRow(r.source, r.advisory_id, r.ecosystem, r.name, orjson.loads(r.entry))


def advisory_content(conn: Connection, source: str, advisory_id: str) -> dict[str, Any] | None:
    """The stored normalized content of one advisory."""
    raw = conn.execute(
        select(t.vuln_advisories.c.content).where(
            t.vuln_advisories.c.source == source, t.vuln_advisories.c.id == advisory_id
        )
    ).scalar()
    return None if raw is None else dict(orjson.loads(raw))


def advisory_contents(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored contents of many (source, advisory id) at once (withdrawn ones included)."""
    a = t.vuln_advisories
    out: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), 400):
        part = wanted[start : start + 400]
        for r in conn.execute(
            select(a.c.source, a.c.id, a.c.content).where(tuple_(a.c.source, a.c.id).in_(part))
        ):
            out[(r.source, r.id)] = dict(orjson.loads(r.content))
    return out


def count_advisories(conn: Connection, source: str | None = None) -> int:
    """How many advisories (of one source) are stored."""
    q = select(func.count()).select_from(t.vuln_advisories)
    if source is not None:
        q = q.where(t.vuln_advisories.c.source == source)
    return int(conn.execute(q).scalar() or 0)


# --- sources -------------------------------------------------------------------------------


def source_row(conn: Connection, name: str) -> dict[str, Any] | None:
    """A feed's bookkeeping row."""
    r = conn.execute(select(t.vuln_sources).where(t.vuln_sources.c.name == name)).first()
    return None if r is None else dict(r._mapping)


def upsert_source(conn: Connection, name: str, **values: Any) -> None:
    """Create or update a feed's bookkeeping row."""
    if source_row(conn, name) is None:
        values.setdefault("kind", "vulnerability")
        conn.execute(insert(t.vuln_sources).values(name=name, **values))
    elif values:
        conn.execute(update(t.vuln_sources).where(t.vuln_sources.c.name == name).values(**values))


def all_sources(conn: Connection) -> list[dict[str, Any]]:
    """Every feed's bookkeeping row."""
    return [
        dict(r._mapping)
        for r in conn.execute(select(t.vuln_sources).order_by(t.vuln_sources.c.name))
    ]


# --- enrichment ----------------------------------------------------------------------------


def enrichment_fingerprints(conn: Connection, kind: str) -> dict[str, str]:
    """CVE id -> fingerprint for one enrichment kind."""
    e = t.vuln_enrichment
    return {
        r.cve_id: r.fingerprint
        for r in conn.execute(select(e.c.cve_id, e.c.fingerprint).where(e.c.kind == kind))
    }


def write_enrichment(
    conn: Connection, kind: str, rows: Sequence[tuple[str, str, dict[str, Any]]], version: int
) -> None:
    """Replace enrichment records: (cve id, fingerprint, content)."""
    if not rows:
        return
    e = t.vuln_enrichment
    ids = [cve for cve, _, _ in rows]
    for start in range(0, len(ids), 500):
        conn.execute(delete(e).where(e.c.kind == kind, e.c.cve_id.in_(ids[start : start + 500])))
    conn.execute(
        insert(e),
        [
            {
                "kind": kind,
                "cve_id": cve,
                "fingerprint": fp,
                "version": version,
                "content": orjson.dumps(c),
            }
            for cve, fp, c in rows
        ],
    )


def enrichment_for(
    conn: Connection, cve_ids: Iterable[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """cve -> kind -> content, for the given CVEs."""
    wanted = list(set(cve_ids))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    e = t.vuln_enrichment
    for start in range(0, len(wanted), 500):
        for r in conn.execute(
            select(e.c.kind, e.c.cve_id, e.c.content).where(
                e.c.cve_id.in_(wanted[start : start + 500])
            )
        ):
            out.setdefault(r.cve_id, {})[r.kind] = orjson.loads(r.content)
    return out


class SqlVulnRepo:
    """`storage.vuln_repo.VulnRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def last_successes(self) -> dict[str, datetime | None]:
        """When each advisory source last succeeded (None: never), by source name."""
        return {
            str(row["name"]): as_utc_or_none(row.get("last_success_at"))
            for row in all_sources(self._conn)
        }
