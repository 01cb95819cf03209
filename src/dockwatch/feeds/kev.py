"""CISA Known Exploited Vulnerabilities catalogue (JSON).

https://www.cisa.gov/known-exploited-vulnerabilities-catalog; schema:
https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json.
Top level `{title, catalogVersion, dateReleased, count, vulnerabilities: [{cveID, vendorProject,
product, vulnerabilityName, dateAdded, shortDescription, requiredAction, dueDate,
knownRansomwareCampaignUse ("Known"|"Unknown"), notes, cwes}]}`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from dockwatch.feeds import fields as f
from dockwatch.feeds.download import DownloadPolicy, Request, Sleep, fetch_all, verify_json
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    Fetched,
    Fingerprint,
    ParseProblem,
    Unchanged,
)
from dockwatch.model.advisory import CveID, KevEntry, is_cve, is_cwe

logger = logging.getLogger(__name__)

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
SOURCE = "kev"
_RANSOMWARE = {"Known": True, "Unknown": False}


def parse_entry(value: object) -> KevEntry:
    """One `vulnerabilities[]` entry. Raises BadRecord."""
    v = f.obj(value, "vulnerabilities[]")
    cve = f.ident(v.get("cveID"), "cveID")
    if not is_cve(cve):
        raise f.BadRecord(f"not a CVE id: {cve[:40]!r}")
    added = f.day(v.get("dateAdded"), "dateAdded")
    if added is None:
        raise f.BadRecord("dateAdded is missing")
    ransom = v.get("knownRansomwareCampaignUse")
    cwes = f.str_tuple(v.get("cwes"), "cwes")
    return KevEntry(
        cve_id=CveID(cve),
        vendor_project=f.text(v.get("vendorProject"), "vendorProject", limit=1024),
        product=f.text(v.get("product"), "product", limit=1024),
        name=f.text(v.get("vulnerabilityName"), "vulnerabilityName", limit=4096),
        date_added=added,
        short_description=f.text(v.get("shortDescription"), "shortDescription"),
        required_action=f.text(v.get("requiredAction"), "requiredAction"),
        due_date=f.day(v.get("dueDate"), "dueDate"),
        known_ransomware_use=_RANSOMWARE.get(ransom) if isinstance(ransom, str) else None,
        notes=f.text(v.get("notes"), "notes"),
        cwe_ids=tuple(sorted({c for c in cwes if is_cwe(c)})),
    )


def parse_document(doc: object, where: str) -> Iterator[KevEntry | ParseProblem]:
    """Every entry of a decoded catalogue."""
    if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
        raise FeedFormatError(SOURCE, "not a KEV catalogue", path=where)
    vulns = doc["vulnerabilities"]
    count = doc.get("count")
    if isinstance(count, int) and count != len(vulns):
        logger.warning("kev: %s says count %d but lists %d", where, count, len(vulns))
    for i, item in enumerate(vulns):
        try:
            yield parse_entry(item)
        except f.BadRecord as e:
            logger.warning("kev: skipped %s[%d]: %s", where, i, e.reason, extra={"feed": SOURCE})
            rid = item.get("cveID") if isinstance(item, dict) else None
            yield ParseProblem(
                SOURCE, f"{where}[{i}]", e.reason, rid if isinstance(rid, str) else None
            )


def parse_file(path: Path, max_bytes: int = 256 << 20) -> Iterator[KevEntry | ParseProblem]:
    """One catalogue file."""
    try:
        doc = orjson.loads(f.read_bounded(path, max_bytes))
    except (OSError, f.TooBig) as e:
        raise FeedFormatError(SOURCE, f"cannot read: {e}", path=str(path)) from e
    except orjson.JSONDecodeError as e:
        raise FeedFormatError(SOURCE, f"invalid JSON: {e}", path=str(path)) from e
    yield from parse_document(doc, str(path))


@dataclass
class KevFeed:
    """CISA KEV, fetched conditionally."""

    url: str = KEV_URL
    """Catalogue URL."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests."""
    name: str = SOURCE
    kind: FeedKind = "enrichment"
    version: int = 1

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download, verified by a JSON parse."""
        req = Request(url=self.url, filename="kev.json", verify=verify_json)
        return fetch_all(self.name, http, [req], prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every catalogue entry."""
        for ff in fetched.files:
            yield from parse_file(ff.path)
