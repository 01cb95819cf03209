"""SQL implementation of `storage.scan_repo.ScanRepo`: settings, scan states, coverage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)

from dockwatch.model.coverage_criteria import CoverageCriteria, GroupKey
from dockwatch.model.identity import Tenant
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.scan_repo import (
    CoverageQuery,
    CoverageScope,
    CoverageSelection,
    CoveredImage,
    CoveredResource,
    MonitoredImage,
    PushedImage,
    ScannedImage,
    ScanState,
    StoredSettings,
)
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.coverage import covered_counts, covered_page
from dockwatch.storage.sql.shared_rows import dialect_insert, put_row

_s, _r, _m = t.image_scans, t.repositories, t.manifests


def _image(row: Any) -> ScannedImage:
    return ScannedImage(row.repository_id, row.name, bool(row.scan_on_push), row.digest)


def _pushed(row: Any) -> PushedImage:
    mapping = row._mapping
    return PushedImage(
        _image(row),
        as_utc(row.last_pushed_at),
        as_utc_or_none(row.last_pulled_at),
        mapping.get("media_type") or "",
        mapping.get("artifact_type"),
        as_utc_or_none(mapping.get("last_activated_at")),
    )


def _state(r: Any) -> ScanState:
    return ScanState(
        r.repository_id, r.digest, r.scan_type, r.status_code, r.reason,
        as_utc_or_none(r.last_scanned_at), r.db_version, r.os_ecosystem, r.unsupported_os,
        as_utc_or_none(r.last_activated_at),
    )  # fmt: skip


def _of(table: Table, tenant: Tenant) -> ColumnElement[bool]:
    """Rows of `table` that belong to `tenant`."""
    return and_(table.c.account_id == tenant.account_id, table.c.region == tenant.region)


def _scan_of(repository_id: int, digest: str) -> ColumnElement[bool]:
    """The scan state row of one image."""
    return and_(_s.c.repository_id == repository_id, _s.c.digest == digest)


def _enhanced_scans(tenant: Tenant, *columns: Any) -> Select[Any]:
    """Images under enhanced scanning of `tenant`, with their repository (`_image` columns)."""
    return (
        select(_s.c.repository_id, _s.c.digest, _r.c.name, _r.c.scan_on_push, *columns)
        .join(_r, _r.c.id == _s.c.repository_id)
        .where(_of(_s, tenant), _s.c.scan_type == "ENHANCED")
    )


_STATE_COLUMNS = (
    "scan_type", "status_code", "reason", "last_scanned_at", "db_version", "os_ecosystem",
    "unsupported_os", "updated_at",
)  # fmt: skip
_THIS_STATE = and_(
    _s.c.repository_id == bindparam("p_repository_id"), _s.c.digest == bindparam("p_digest")
)
# statements built once with bound parameters: compiled once, a bulk activation reuses them
_UPDATE_STATE = (
    update(_s).where(_THIS_STATE).values({c: bindparam(f"p_{c}") for c in _STATE_COLUMNS})
)
_UPDATE_STATE_ACTIVATED = _UPDATE_STATE.values(last_activated_at=bindparam("p_last_activated_at"))
_INSERTED_COLUMNS = (
    "account_id", "region", "repository_id", "digest", *_STATE_COLUMNS, "last_activated_at",
)  # fmt: skip
_INSERT_STATE: dict[tuple[str, bool], Any] = {}


def _insert_state(conn: Connection, activated: bool) -> Any:
    """The state's INSERT (built once per dialect): a state another writer added meanwhile
    is updated as `_UPDATE_STATE` (`_ACTIVATED`) would (`shared_rows`)."""
    key = (conn.dialect.name, activated)
    stmt = _INSERT_STATE.get(key)
    if stmt is None:
        row = dialect_insert(conn, _s).values({c: bindparam(f"p_{c}") for c in _INSERTED_COLUMNS})
        changed = (*_STATE_COLUMNS, "last_activated_at") if activated else _STATE_COLUMNS
        stmt = _INSERT_STATE[key] = row.on_conflict_do_update(
            index_elements=["repository_id", "digest"],
            set_={c: row.excluded[c] for c in changed},
        )
    return stmt


class SqlScanRepo:
    """`storage.scan_repo.ScanRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def settings(self, tenant: Tenant) -> StoredSettings | None:
        s = t.scan_settings
        row = self._conn.execute(
            select(s.c.scanning_configuration, s.c.ecr_configuration).where(_of(s, tenant))
        ).first()
        if row is None:
            return None
        return StoredSettings(
            json.loads(row.scanning_configuration), json.loads(row.ecr_configuration)
        )

    def save_settings(
        self, tenant: Tenant, scanning: dict[str, Any], ecr: dict[str, Any], at: datetime
    ) -> None:
        s = t.scan_settings
        values = {
            "scanning_configuration": json.dumps(scanning),
            "ecr_configuration": json.dumps(ecr),
            "updated_at": at,
        }
        keys = {"account_id": tenant.account_id, "region": tenant.region}
        put_row(self._conn, s, keys | values, ("account_id", "region"))  # a first save at once

    def get_scan(self, repository_id: int, digest: str) -> ScanState | None:
        r = self._conn.execute(select(_s).where(_scan_of(repository_id, digest))).first()
        return None if r is None else _state(r)

    def enhanced_states(self, tenant: Tenant) -> dict[tuple[int, str], ScanState]:
        rows = self._conn.execute(select(_s).where(_of(_s, tenant), _s.c.scan_type == "ENHANCED"))
        return {(r.repository_id, r.digest): _state(r) for r in rows}

    def activation_epoch(self, tenant: Tenant) -> int:
        s = t.scan_settings
        found = self._conn.execute(select(s.c.activation_epoch).where(_of(s, tenant))).first()
        return 0 if found is None else int(found[0])

    def next_activation_epoch(self, tenant: Tenant) -> int:
        s = t.scan_settings
        self._conn.execute(
            update(s).where(_of(s, tenant)).values(activation_epoch=s.c.activation_epoch + 1)
        )
        return self.activation_epoch(tenant)

    def put_scan(self, tenant: Tenant, state: ScanState, at: datetime) -> None:
        params = {
            "p_scan_type": state.scan_type,
            "p_status_code": state.status_code,
            "p_reason": state.reason,
            "p_last_scanned_at": state.last_scanned_at,
            "p_db_version": state.db_version,
            "p_os_ecosystem": state.os_ecosystem,
            "p_unsupported_os": state.unsupported_os,
            "p_updated_at": at,
            "p_last_activated_at": state.last_activated_at,
            "p_repository_id": state.repository_id,
            "p_digest": state.digest,
        }
        # None keeps the stored monitoring start
        stmt = _UPDATE_STATE if state.last_activated_at is None else _UPDATE_STATE_ACTIVATED
        if not self._conn.execute(stmt, params).rowcount:
            keys = {"p_account_id": tenant.account_id, "p_region": tenant.region}
            insert_state = _insert_state(self._conn, state.last_activated_at is not None)
            self._conn.execute(insert_state, {**params, **keys})

    def delete_scan(self, repository_id: int, digest: str) -> None:
        self._conn.execute(delete(_s).where(_scan_of(repository_id, digest)))

    def touch_scanned(
        self, resources: Sequence[tuple[int, str]], at: datetime, db_version: int
    ) -> None:
        if not resources:
            return
        stmt = (
            update(_s)
            .where(_s.c.repository_id == bindparam("b_repo"), _s.c.digest == bindparam("b_digest"))
            .values(last_scanned_at=bindparam("b_at"), db_version=bindparam("b_version"))
        )
        self._conn.execute(
            stmt,
            [
                {"b_repo": repo_id, "b_digest": digest, "b_at": at, "b_version": db_version}
                for repo_id, digest in resources
            ],
        )

    def set_basic_result(
        self,
        repository_id: int,
        digest: str,
        findings: list[dict[str, Any]] | None,
        manual_at: datetime | None,
    ) -> None:
        values: dict[str, Any] = {}
        if findings is not None:
            values["basic_findings"] = orjson.dumps(findings)
        if manual_at is not None:
            values["last_manual_scan_at"] = manual_at
        if values:
            self._conn.execute(update(_s).where(_scan_of(repository_id, digest)).values(**values))

    def basic_result(
        self, repository_id: int, digest: str
    ) -> tuple[list[dict[str, Any]] | None, datetime | None]:
        r = self._conn.execute(
            select(_s.c.basic_findings, _s.c.last_manual_scan_at).where(
                _scan_of(repository_id, digest)
            )
        ).first()
        if r is None:
            return None, None
        findings = None if r.basic_findings is None else list(orjson.loads(r.basic_findings))
        return findings, as_utc_or_none(r.last_manual_scan_at)

    def pushed_images(self, tenant: Tenant) -> list[PushedImage]:
        rows = self._conn.execute(
            select(
                _r.c.id.label("repository_id"),
                _r.c.name,
                _r.c.scan_on_push,
                _m.c.digest,
                _m.c.last_pushed_at,
                _m.c.last_pulled_at,
                _m.c.media_type,
                _m.c.artifact_type,
            )  # fmt: skip
            .join(_r, _r.c.id == _m.c.repository_id)
            .where(_of(_r, tenant))
        ).all()
        return [_pushed(r) for r in rows]

    def enhanced_images(self, tenant: Tenant) -> list[ScannedImage]:
        return [_image(r) for r in self._conn.execute(_enhanced_scans(tenant)).all()]

    def active_pushed_images(self, tenant: Tenant) -> list[PushedImage]:
        rows = self._conn.execute(
            select(
                _s.c.repository_id,
                _s.c.digest,
                _r.c.name,
                _r.c.scan_on_push,
                _m.c.last_pushed_at,
                _m.c.last_pulled_at,
                func.coalesce(_s.c.last_activated_at, _m.c.image_pushed_at).label(
                    "last_activated_at"
                ),
            )  # fmt: skip
            .join(_r, _r.c.id == _s.c.repository_id)
            .join(_m, (_m.c.repository_id == _s.c.repository_id) & (_m.c.digest == _s.c.digest))
            .where(_of(_s, tenant), _s.c.status_code == "ACTIVE")
        ).all()
        return [_pushed(r) for r in rows]

    def monitored_images(self, tenant: Tenant) -> list[MonitoredImage]:
        rows = self._conn.execute(
            _enhanced_scans(tenant, _s.c.os_ecosystem).where(_s.c.status_code == "ACTIVE")
        )
        return [MonitoredImage(_image(r), r.os_ecosystem) for r in rows]

    def stale_inventories(self, tenant: Tenant, catalogers: str) -> list[ScannedImage]:
        inv = t.image_inventories
        rows = self._conn.execute(
            _enhanced_scans(tenant)
            .join(inv, inv.c.digest == _s.c.digest)
            .where(_s.c.status_code == "ACTIVE", inv.c.catalogers != catalogers)
        ).all()
        return [_image(r) for r in rows]

    def coverage(self, tenant: Tenant, query: CoverageQuery) -> list[CoveredImage]:
        q = (
            select(
                _s.c.digest,
                _s.c.status_code,
                _s.c.reason,
                _s.c.last_scanned_at,
                _s.c.repository_id,
                _r.c.name,
                _r.c.scan_on_push,
                _m.c.image_pushed_at,
                _m.c.last_pulled_at,
                _s.c.last_activated_at,
            )  # fmt: skip
            .join(_r, _r.c.id == _s.c.repository_id)
            .join(_m, (_m.c.repository_id == _s.c.repository_id) & (_m.c.digest == _s.c.digest))
            .where(_of(_s, tenant), _s.c.scan_type == "ENHANCED")  # enhanced scanning's coverage
            .order_by(_r.c.name, _s.c.digest)
        )
        if query.repository:
            q = q.where(_r.c.name == query.repository)
        if query.status_code:
            q = q.where(_s.c.status_code == query.status_code)
        if query.reason:
            q = q.where(_s.c.reason == query.reason)
        if query.scanned_from is not None:
            q = q.where(_s.c.last_scanned_at >= query.scanned_from)
        if query.scanned_to is not None:
            q = q.where(_s.c.last_scanned_at <= query.scanned_to)
        if query.after is not None:
            name, digest = query.after
            q = q.where((_r.c.name > name) | ((_r.c.name == name) & (_s.c.digest > digest)))
        rows = self._conn.execute(q.limit(query.limit + 1)).all()
        return [
            CoveredImage(
                _image(r),
                r.status_code,
                r.reason,
                as_utc_or_none(r.last_scanned_at),
                as_utc(r.image_pushed_at),
                as_utc_or_none(r.last_pulled_at),
                as_utc_or_none(r.last_activated_at),
            )  # fmt: skip
            for r in rows
        ]

    def covered_resources(
        self, tenant: Tenant, selection: CoverageSelection
    ) -> list[CoveredResource]:
        return covered_page(self._conn, tenant, selection)

    def coverage_counts(
        self,
        tenant: Tenant,
        criteria: CoverageCriteria,
        scope: CoverageScope,
        group: GroupKey | None,
    ) -> tuple[int, list[tuple[str, int]]]:
        return covered_counts(self._conn, tenant, criteria, scope, group)

    def scan_states_of(self, repository_id: int) -> dict[str, ScanState]:
        rows = self._conn.execute(select(_s).where(_s.c.repository_id == repository_id))
        return {
            r.digest: ScanState(
                r.repository_id,
                r.digest,
                r.scan_type,
                r.status_code,
                r.reason,
                as_utc_or_none(r.last_scanned_at),
                r.db_version,
                r.os_ecosystem,
                r.unsupported_os,
            )  # fmt: skip
            for r in rows
        }

    def settings_updated_at(self, tenant: Tenant) -> datetime | None:
        s = t.scan_settings
        row = self._conn.execute(select(s.c.updated_at).where(_of(s, tenant))).first()
        return None if row is None else as_utc(row.updated_at)
