"""Writing findings: reconcile, suppress, persist in bulk, and emit the events in one transaction.

Every path that changes findings comes through here: a scan of one image (scope: every
vulnerability), a feed delta re-evaluating thousands of images at once (scope: the
vulnerabilities the delta can touch), an enrichment update, expiry and deletion (close all).
Work is batched: details are content-addressed (identical findings across images share one
detail row) and rows are written with `executemany`.

Events (`FindingCreated`, `FindingUpdated`, `FindingClosed`) carry a compact snapshot of the row
plus the detail's ref; `events.materialize` turns one into Inspector's full `Finding`. An update
emits an event only when the status, severity, fix or exploit flag, or the score band changes, so
daily EPSS churn or a reworded description does not flood subscribers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, select, tuple_

from dockwatch.model.events import FindingChanged, FindingClosed, FindingCreated, FindingUpdated
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.sql import finding_repo as repo
from dockwatch.storage.sql import outbox
from dockwatch.storage.sql import tables as t

from .build import FindingDraft, score_severity
from .lifecycle import FindingStatus, ImageResource, StoredFinding, reconcile
from .shape import ImageContext, inspector_finding


class Suppressor(Protocol):
    """Suppression rules in force, compiled (owned by findings/suppression.py)."""

    def rule_for(self, finding: Mapping[str, Any]) -> str | None:
        """The id of the first rule suppressing this Inspector-shaped finding, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """One image resource to bring up to date."""

    repository_id: int
    repository: str
    digest: str
    drafts: Mapping[str, FindingDraft]
    scope: frozenset[str] | None = None
    """The vulnerability ids this evaluation speaks for (None: all of them, a full scan);
    stored findings outside the scope are left as they are."""


@dataclass(slots=True)
class Applied:
    """What a batch changed."""

    opened: int = 0
    reopened: int = 0
    updated: int = 0
    observed: int = 0
    closed: int = 0
    events: int = 0
    suppressed: int = 0
    per_resource: dict[tuple[int, str], tuple[int, int, int]] = field(default_factory=dict)
    """(opened, closed, reopened) per (repository id, digest)."""


def _band(score: float | None) -> str | None:
    return None if score is None else score_severity(score)


def _package_rows(draft: FindingDraft) -> list[dict[str, Any]]:
    packages = draft.detail["packageVulnerabilityDetails"]["vulnerablePackages"]
    return [
        {
            "pkg_ref": ref,
            "name": p["name"],
            "version": p["version"],
            "package_manager": p["packageManager"],
            "source_layer_hash": p.get("sourceLayerHash"),
            "fixed_in_version": p.get("fixedInVersion"),
            "file_path": p.get("filePath"),
        }
        for p, ref in zip(packages, draft.package_refs, strict=True)
    ]


class FindingWriter:
    """Applies evaluations to the findings store inside the caller's transaction."""

    def __init__(
        self, tenant: Tenant, suppressor: Callable[[Connection], Suppressor | None] | None = None
    ) -> None:
        self.tenant = tenant
        self._suppressor = suppressor

    def apply(
        self,
        conn: Connection,
        targets: Sequence[Target],
        now: datetime,
        *,
        stored: Sequence[repo.StoredRow] | None = None,
    ) -> Applied:
        """Reconcile each target's drafts with its stored findings and write the result.

        `stored` may hold the rows already read by the caller (a superset is fine); without
        it they are read here.
        """
        out = Applied()
        if not targets:
            return out
        if stored is None:
            stored = repo.stored_of(conn, [(x.repository_id, x.digest) for x in targets])
        latest: dict[tuple[int, str], dict[str, repo.StoredRow]] = {}
        for have in stored:  # oldest generation first: the newest wins
            latest.setdefault((have.repository_id, have.digest), {})[have.vulnerability_id] = have
        suppressor = None if self._suppressor is None else self._suppressor(conn)
        context = _ImageContexts(conn)
        details: dict[int, tuple[str, bytes, FindingDraft]] = {}

        def detail_of(draft: FindingDraft) -> tuple[str, bytes]:
            known = details.get(id(draft))
            if known is None:
                ref, doc = repo.detail_document(draft.detail)
                known = details[id(draft)] = (ref, doc, draft)
            return known[0], known[1]

        inserts: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        observed: list[dict[str, Any]] = []
        closes: list[dict[str, Any]] = []
        pending: list[tuple[type[FindingChanged], Mapping[str, Any], list[str]]] = []
        if suppressor is not None:
            context.prefetch([(x.repository_id, x.repository, x.digest) for x in targets])
        for target in targets:
            key = (target.repository_id, target.digest)
            mine = latest.get(key, {})
            if target.scope is not None:
                mine = {v: r for v, r in mine.items() if v in target.scope}
            resource = ImageResource(
                self.tenant.account_id, self.tenant.region, target.repository, target.digest
            )
            plan = reconcile(
                resource,
                {
                    v: StoredFinding(r.id, v, FindingStatus(r.status), r.closed_at, r.generation)
                    for v, r in mine.items()
                },
                target.drafts.keys(),
                now,
            )
            out.per_resource[key] = (len(plan.opened), len(plan.closed), len(plan.reopened))
            for finding_id, vuln, generation in plan.opened:
                draft = target.drafts[vuln]
                ref, _ = detail_of(draft)
                status = self._status(suppressor, context, target, finding_id, draft, now, now)
                row = {
                    "id": finding_id,
                    "account_id": self.tenant.account_id,
                    "region": self.tenant.region,
                    "repository_id": target.repository_id,
                    "repository_name": target.repository,
                    "digest": target.digest,
                    "vulnerability_id": vuln,
                    "generation": generation,
                    "first_observed_at": now,
                    "closed_at": None,
                    **_columns(draft, ref, status, now),
                }
                inserts.append(row)
                out.opened += 1
                pending.append((FindingCreated, row, []))
            by_id = {r.id: r for r in mine.values()}
            for finding_id in plan.reopened + plan.unchanged:
                old = by_id[finding_id]
                draft = target.drafts[old.vulnerability_id]
                ref, _ = detail_of(draft)
                status = self._status(
                    suppressor, context, target, finding_id, draft, old.first_observed_at, now
                )
                cols = _columns(draft, ref, status, now)
                diff = [
                    name
                    for name, before, after in (
                        ("status", old.status, status[0]),
                        ("severity", old.severity, draft.severity),
                        ("fixAvailable", old.fix_available, draft.fix_available),
                        ("exploitAvailable", old.exploit_available, cols["exploit_available"]),
                        (
                            "inspectorScore",
                            _band(old.inspector_score),
                            _band(cols["inspector_score"]),
                        ),
                    )
                    if before != after
                ]
                if not diff and ref == old.detail_ref and status[1] == old.suppressed_by:
                    observed.append({"b_id": finding_id, "b_last_observed_at": now})
                    out.observed += 1
                    continue
                row = {
                    "id": finding_id,
                    "repository_id": target.repository_id,
                    "repository_name": target.repository,
                    "digest": target.digest,
                    "vulnerability_id": old.vulnerability_id,
                    "first_observed_at": old.first_observed_at,
                    "closed_at": None,
                    **cols,
                }
                changed.append({f"b_{k}": v for k, v in row.items() if k in _CHANGE_COLUMNS})
                if finding_id in plan.reopened:
                    out.reopened += 1
                else:
                    out.updated += 1
                if diff:
                    pending.append((FindingUpdated, row, diff))
            for finding_id in plan.closed:
                old = by_id[finding_id]
                closes.append({"b_id": finding_id, "b_status": "CLOSED", "b_closed_at": now,
                               "b_updated_at": now, "b_suppressed_by": None})  # fmt: skip
                out.closed += 1
                pending.append(
                    (FindingClosed, _closed_row(old, target.repository, now), ["status"])
                )
        context.prefetch(
            sorted({(r["repository_id"], r["repository_name"], r["digest"]) for _, r, _ in pending})
        )
        events = [self._event(kind, context, row, diff, now) for kind, row, diff in pending]
        refs = {ref: (doc, draft) for ref, doc, draft in details.values()}
        missing = repo.missing_details(conn, refs)
        repo.insert_details(
            conn, {r: (refs[r][0], _package_rows(refs[r][1])) for r in sorted(missing)}, now
        )
        repo.insert_findings(conn, inserts)
        repo.update_findings(conn, [c.removeprefix("b_") for c in _CHANGE_BINDS], changed)
        repo.update_findings(conn, ["last_observed_at"], observed)
        repo.update_findings(conn, ["status", "closed_at", "updated_at", "suppressed_by"], closes)
        out.suppressed = sum(1 for r in inserts if r["status"] == "SUPPRESSED") + sum(
            1 for r in changed if r["b_status"] == "SUPPRESSED"
        )
        out.events = outbox.SqlOutbox(conn).append_many(events)
        return out

    def close_all(
        self, conn: Connection, resources: Sequence[tuple[int, str, str]], now: datetime
    ) -> int:
        """Close every open finding of the (repository id, name, digest) resources (image
        deleted or no longer eligible); returns how many closed."""
        stored = repo.stored_of(conn, [(r, d) for r, _, d in resources])
        names = {(r, d): n for r, n, d in resources}
        context = _ImageContexts(conn)
        closes: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for old in stored:
            if old.status == "CLOSED":
                continue
            closes.append({"b_id": old.id, "b_status": "CLOSED", "b_closed_at": now,
                           "b_updated_at": now, "b_suppressed_by": None})  # fmt: skip
            rows.append(_closed_row(old, names[(old.repository_id, old.digest)], now))
        context.prefetch(list(resources))
        events = [self._event(FindingClosed, context, row, ["status"], now) for row in rows]
        repo.update_findings(conn, ["status", "closed_at", "updated_at", "suppressed_by"], closes)
        outbox.SqlOutbox(conn).append_many(events)
        return len(closes)

    def _status(
        self,
        suppressor: Suppressor | None,
        context: _ImageContexts,
        target: Target,
        finding_id: str,
        draft: FindingDraft,
        first: datetime,
        now: datetime,
    ) -> tuple[str, str | None]:
        """(status, suppressing rule) of an open finding."""
        if suppressor is None:
            return "ACTIVE", None
        image = context.get(target.repository_id, target.repository, target.digest)
        shaped = inspector_finding(
            self.tenant,
            image,
            finding_id=finding_id,
            status="ACTIVE",
            severity=draft.severity,
            fix_available=draft.fix_available,
            first_observed_at=first,
            last_observed_at=now,
            updated_at=now,
            detail=draft.detail,
            include_evidence=False,
        )
        rule = suppressor.rule_for(shaped)
        return ("SUPPRESSED", rule) if rule else ("ACTIVE", None)

    def _event(
        self,
        kind: type[FindingChanged],
        context: _ImageContexts,
        row: Mapping[str, Any],
        changes: list[str],
        now: datetime,
    ) -> FindingChanged:
        image = context.get(row["repository_id"], row["repository_name"], row["digest"])
        return kind(
            self.tenant,
            now,
            finding_id=row["id"],
            detail_ref=row["detail_ref"],
            vulnerability_id=row["vulnerability_id"],
            status=row["status"],
            severity=row["severity"],
            fix_available=row["fix_available"],
            first_observed_at=row["first_observed_at"],
            last_observed_at=row["last_observed_at"],
            updated_at=row["updated_at"],
            repository_name=row["repository_name"],
            image_digest=row["digest"],
            image_tags=tuple(image.tags),
            pushed_at=image.pushed_at,
            changes=tuple(changes),
        )


def _closed_row(old: repo.StoredRow, repository: str, now: datetime) -> dict[str, Any]:
    return {
        "id": old.id,
        "repository_id": old.repository_id,
        "detail_ref": old.detail_ref,
        "vulnerability_id": old.vulnerability_id,
        "status": "CLOSED",
        "severity": old.severity,
        "fix_available": old.fix_available,
        "first_observed_at": old.first_observed_at,
        "last_observed_at": old.last_observed_at,
        "updated_at": now,
        "repository_name": repository,
        "digest": old.digest,
    }


_CHANGE_COLUMNS = (
    "id", "status", "suppressed_by", "severity", "fix_available", "exploit_available",
    "inspector_score", "epss_score", "source", "last_observed_at", "updated_at", "closed_at",
    "detail_ref",
)  # fmt: skip
_CHANGE_BINDS = tuple(f"b_{c}" for c in _CHANGE_COLUMNS if c != "id")


def _columns(
    draft: FindingDraft, ref: str, status: tuple[str, str | None], now: datetime
) -> dict[str, Any]:
    d = draft.detail
    epss = d.get("epss") or {}
    return {
        "status": status[0],
        "suppressed_by": status[1],
        "severity": draft.severity,
        "fix_available": draft.fix_available,
        "exploit_available": d.get("exploitAvailable") or "NO",
        "inspector_score": d.get("inspectorScore"),
        "epss_score": epss.get("score"),
        "source": (d.get("packageVulnerabilityDetails") or {}).get("source") or "",
        "last_observed_at": now,
        "updated_at": now,
        "detail_ref": ref,
    }


class _ImageContexts:
    """Tags and push times of image resources, read once per batch when first needed."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._known: dict[tuple[str, str], ImageContext] = {}

    def get(self, repository_id: int, repository: str, digest: str) -> ImageContext:
        key = (repository, digest)
        found = self._known.get(key)
        if found is None:
            self.prefetch([(repository_id, repository, digest)])
            found = self._known[key]
        return found

    def prefetch(self, resources: Sequence[tuple[int, str, str]]) -> None:
        wanted = [(r, n, d) for r, n, d in resources if (n, d) not in self._known]
        if not wanted:
            return
        tags: dict[tuple[int, str], list[str]] = {}
        pushed: dict[tuple[int, str], datetime] = {}
        tg, m = t.tags, t.manifests
        pairs = sorted({(r, d) for r, _, d in wanted})
        for start in range(0, len(pairs), 400):
            part = pairs[start : start + 400]
            for row in self.conn.execute(
                select(tg.c.repository_id, tg.c.manifest_digest, tg.c.name)
                .where(tuple_(tg.c.repository_id, tg.c.manifest_digest).in_(part))
                .order_by(tg.c.name)
            ):
                tags.setdefault((row.repository_id, row.manifest_digest), []).append(row.name)
            for row in self.conn.execute(
                select(m.c.repository_id, m.c.digest, m.c.image_pushed_at).where(
                    tuple_(m.c.repository_id, m.c.digest).in_(part)
                )
            ):
                pushed[(row.repository_id, row.digest)] = row.image_pushed_at
        for r, n, d in wanted:
            self._known[(n, d)] = ImageContext(
                n, d, tuple(tags.get((r, d), ())), as_utc_or_none(pushed.get((r, d)))
            )
