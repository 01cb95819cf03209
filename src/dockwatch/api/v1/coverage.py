"""`GET /api/v1/coverage`: Inspector ListCoverage over the scan state, with keyset pagination."""

from __future__ import annotations

import base64
import json
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from dockwatch.app import Services
from dockwatch.errors import InvalidInput
from dockwatch.model.times import as_utc, as_utc_or_none
from dockwatch.storage.sql import registry_repo as registry_sql
from dockwatch.storage.sql import tables as t

MAX_RESULTS = 200


def _token(last: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode()


def _untoken(value: str) -> tuple[str, str]:
    try:
        name, digest = json.loads(base64.urlsafe_b64decode(value.encode()))
        return str(name), str(digest)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("nextToken is not a token this API issued") from exc


async def list_coverage(services: Services, request: Request) -> dict[str, Any]:
    """Covered image resources: filters `repositoryName`, `scanStatusCode`, `scanStatusReason`,
    `lastScannedAtFrom`/`lastScannedAtTo` (ISO 8601); `maxResults` (1-200) and `nextToken`."""
    from datetime import datetime

    q = request.query_params
    try:
        limit = int(q.get("maxResults", MAX_RESULTS))
    except ValueError as exc:
        raise InvalidInput("maxResults must be a number") from exc
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"maxResults must be between 1 and {MAX_RESULTS}")
    after = _untoken(q["nextToken"]) if q.get("nextToken") else None
    try:
        since = (
            datetime.fromisoformat(q["lastScannedAtFrom"]) if q.get("lastScannedAtFrom") else None
        )
        until = datetime.fromisoformat(q["lastScannedAtTo"]) if q.get("lastScannedAtTo") else None
    except ValueError as exc:
        raise InvalidInput(f"lastScannedAt filters must be ISO 8601 times: {exc}") from exc

    def run() -> dict[str, Any]:
        config, _ = services.scanner.settings()
        s, r, m = t.image_scans, t.repositories, t.manifests
        query = (
            s.select()
            .with_only_columns(
                s.c.digest,
                s.c.status_code,
                s.c.reason,
                s.c.last_scanned_at,
                s.c.repository_id,
                r.c.name,
                r.c.scan_on_push,
                m.c.image_pushed_at,
                m.c.last_pulled_at,
            )  # fmt: skip
            .join(r, r.c.id == s.c.repository_id)
            .join(m, (m.c.repository_id == s.c.repository_id) & (m.c.digest == s.c.digest))
            .where(
                s.c.account_id == services.tenant.account_id,
                s.c.region == services.tenant.region,
                s.c.scan_type == "ENHANCED",  # coverage belongs to enhanced scanning
            )
            .order_by(r.c.name, s.c.digest)
        )
        if q.get("repositoryName"):
            query = query.where(r.c.name == q["repositoryName"])
        if q.get("scanStatusCode"):
            query = query.where(s.c.status_code == q["scanStatusCode"])
        if q.get("scanStatusReason"):
            query = query.where(s.c.reason == q["scanStatusReason"])
        if since is not None:
            query = query.where(s.c.last_scanned_at >= since)
        if until is not None:
            query = query.where(s.c.last_scanned_at <= until)
        if after is not None:
            query = query.where(
                (r.c.name > after[0]) | ((r.c.name == after[0]) & (s.c.digest > after[1]))
            )
        with services.db.read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
            tags = {
                (row.repository_id, row.digest): registry_sql.tags_of(
                    conn, row.repository_id, row.digest
                )
                for row in rows[:limit]
            }
        region, account = services.tenant.region, services.tenant.account_id
        out = []
        for row in rows[:limit]:
            last = as_utc_or_none(row.last_scanned_at)
            pulled = as_utc_or_none(row.last_pulled_at)
            out.append(
                {
                    "accountId": account,
                    "resourceId": f"arn:aws:ecr:{region}:{account}:repository/{row.name}/{row.digest}",
                    "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                    "scanType": "PACKAGE",
                    "scanStatus": {"statusCode": row.status_code, "reason": row.reason},
                    "lastScannedAt": None if last is None else last.isoformat(),
                    "resourceMetadata": {
                        "ecrImage": {
                            "tags": tags[(row.repository_id, row.digest)],
                            "pushedAt": as_utc(row.image_pushed_at).isoformat(),
                            "imagePulledAt": None if pulled is None else pulled.isoformat(),
                        },
                        "ecrRepository": {
                            "name": row.name,
                            "scanFrequency": config.frequency_for(row.name, row.scan_on_push).value,
                        },
                    },
                }
            )
        body: dict[str, Any] = {"coveredResources": out}
        if len(rows) > limit:
            last_row = rows[limit - 1]
            body["nextToken"] = _token((last_row.name, last_row.digest))
        return body

    return await to_thread.run_sync(run)
