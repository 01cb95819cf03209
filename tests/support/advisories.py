"""Advisory files as their upstreams write them, for tests that import them: an OSV record and
a CISA KEV catalogue (the fields `feeds/kev.py` reads, and the ones it does not)."""

from __future__ import annotations

from typing import Any

import orjson


def osv_record(rid: str, ecosystem: str, name: str, fixed: str, **extra: Any) -> bytes:
    """An OSV record (JSON) of one package affected from the first version until `fixed`."""
    doc = {
        "id": rid,
        "modified": "2026-01-02T03:04:05Z",
        "summary": f"{name} before {fixed}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }
    return orjson.dumps(doc)


def kev_catalogue(*entries: dict[str, Any]) -> dict[str, Any]:
    """A KEV catalogue of `entries`, each its `cveID` and whatever differs from a plain one."""
    plain = {
        "vendorProject": "x", "product": "x", "vulnerabilityName": "a bug",
        "dateAdded": "2026-11-20", "shortDescription": "bad", "requiredAction": "patch",
        "dueDate": "2026-12-10", "knownRansomwareCampaignUse": "Unknown", "notes": "",
    }  # fmt: skip
    return {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.11.26",
        "dateReleased": "2026-11-26T00:00:00.000Z",
        "count": len(entries),
        "vulnerabilities": [{**plain, **entry} for entry in entries],
    }
