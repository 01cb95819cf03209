"""CISA Known Exploited Vulnerabilities catalogue (JSON).

https://www.cisa.gov/known-exploited-vulnerabilities-catalog; schema:
https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json.
Top level `{title, catalogVersion, dateReleased, count, vulnerabilities: [{cveID, vendorProject,
product, vulnerabilityName, dateAdded, shortDescription, requiredAction, dueDate,
knownRansomwareCampaignUse ("Known"|"Unknown"), notes, cwes}]}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dockwatch.feeds import fields as f
from dockwatch.feeds.download import SingleFileFeed, Verify, verify_json
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    ParseProblem,
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
    yield from parse_document(f.load_json_file(path, max_bytes, SOURCE), str(path))


@dataclass
class KevFeed(SingleFileFeed):
    """CISA KEV, fetched conditionally."""

    url: str = KEV_URL
    name: str = SOURCE
    kind: FeedKind = "enrichment"
    filename: ClassVar[str] = "kev.json"
    verify: ClassVar[Verify] = staticmethod(verify_json)

    def parse_file(self, path: Path) -> Iterator[FeedItem]:
        """The records of one file."""
        yield from parse_file(path)
