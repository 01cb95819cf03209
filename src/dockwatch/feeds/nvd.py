"""NVD CVE API 2.0 (https://nvd.nist.gov/developers/vulnerabilities): CVSS enrichment only.

Pages of `{"resultsPerPage", "startIndex", "totalResults", "format": "NVD_CVE", "version": "2.0",
"timestamp", "vulnerabilities": [{"cve": {"id", "published", "lastModified", "vulnStatus",
"descriptions", "metrics": {"cvssMetricV40"|"cvssMetricV31"|"cvssMetricV30"|"cvssMetricV2": [{
"source", "type", "cvssData": {"version", "vectorString", "baseScore", ...}}]}, "weaknesses",
"references", "configurations"}}]}`. NVD never creates a match here: it only supplies CVSS where
an advisory has none, so it yields NvdCvss records.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from dockwatch.feeds import fields as f
from dockwatch.feeds.download import (
    DownloadPolicy,
    Request,
    Sleep,
    download,
    feed_workdir,
    paged_result,
    verify_json,
)
from dockwatch.feeds.feed import (
    FeedFormatError,
    FeedItem,
    FeedKind,
    Fetched,
    FetchedFile,
    FetchError,
    Fingerprint,
    ParseProblem,
    Unchanged,
    Validator,
)
from dockwatch.model.advisory import (
    CveID,
    NvdCvss,
    Severity,
    SeverityType,
    cvss_score,
    is_cve,
    is_cwe,
)

logger = logging.getLogger(__name__)

NVD_CVE_API = "https://services.nvd.nist.gov/rest/json/cves/2.0"
SOURCE = "nvd"
MAX_RESULTS_PER_PAGE = 2000
"""The API's maximum `resultsPerPage` for the CVE API."""

_METRICS = (
    ("cvssMetricV40", SeverityType.CVSS_V4),
    ("cvssMetricV31", SeverityType.CVSS_V3),
    ("cvssMetricV30", SeverityType.CVSS_V3),
    ("cvssMetricV2", SeverityType.CVSS_V2),
)


def parse_cve(item: object) -> NvdCvss:
    """One `vulnerabilities[]` item. Raises BadRecord."""
    cve = f.obj(f.obj(item, "vulnerabilities[]").get("cve"), "cve")
    cve_id = f.ident(cve.get("id"), "cve.id")
    if not is_cve(cve_id):
        raise f.BadRecord(f"not a CVE id: {cve_id[:40]!r}")
    severities: list[Severity] = []
    metrics = f.obj(cve.get("metrics") or {}, "metrics")
    for key, stype in _METRICS:
        for m in f.arr(metrics.get(key), key):
            sev = _metric(m, stype, key)
            if sev is not None:
                severities.append(sev)
    cwes: set[str] = set()
    for w in f.arr(cve.get("weaknesses"), "weaknesses"):
        for d in f.arr(f.obj(w, "weaknesses[]").get("description"), "weaknesses[].description"):
            value = f.obj(d, "weaknesses[].description[]").get("value")
            if isinstance(value, str) and is_cwe(value):
                cwes.add(value)
    description = ""
    for d in f.arr(cve.get("descriptions"), "descriptions"):
        dd = f.obj(d, "descriptions[]")
        if dd.get("lang") == "en":
            description = f.text(dd.get("value"), "descriptions[].value")
            break
    return NvdCvss(
        cve_id=CveID(cve_id),
        severities=tuple(severities),
        cwe_ids=tuple(sorted(cwes)),
        description=description,
        published=f.timestamp(cve.get("published"), "published"),
        last_modified=f.timestamp(cve.get("lastModified"), "lastModified"),
        status=f.text(cve.get("vulnStatus"), "vulnStatus", limit=64),
    )


def _metric(value: object, stype: SeverityType, key: str) -> Severity | None:
    m = f.obj(value, f"{key}[]")
    data = f.obj(m.get("cvssData"), f"{key}[].cvssData")
    vector = f.text(data.get("vectorString"), f"{key}[].cvssData.vectorString", limit=512)
    if not vector:
        return None
    source = f.text(m.get("source"), f"{key}[].source", limit=256) or SOURCE
    score, rating = cvss_score(stype, vector)
    if score is None:  # a vector our library refuses: keep what NVD computed
        given = data.get("baseScore")
        score = float(given) if isinstance(given, int | float) and 0 <= given <= 10 else None
        sev = data.get("baseSeverity") or m.get("baseSeverity")
        rating = sev.upper() if isinstance(sev, str) else None
    return Severity(stype, vector, source, base_score=score, rating=rating)


def parse_page(doc: object, where: str) -> Iterator[NvdCvss | ParseProblem]:
    """Every CVE of one decoded API page."""
    if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
        raise FeedFormatError(SOURCE, "not an NVD CVE API 2.0 page", path=where)
    for i, item in enumerate(doc["vulnerabilities"]):
        try:
            yield parse_cve(item)
        except f.BadRecord as e:
            rid = _peek_id(item)
            logger.warning("nvd: skipped %s[%d]: %s", where, i, e.reason, extra={"feed": SOURCE})
            yield ParseProblem(SOURCE, f"{where}[{i}]", e.reason, rid)


def _peek_id(item: object) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("cve"), dict):
        rid = item["cve"].get("id")
        return rid[:64] if isinstance(rid, str) else None
    return None


def parse_file(path: Path, max_bytes: int = 1 << 30) -> Iterator[NvdCvss | ParseProblem]:
    """One saved API page."""
    yield from parse_page(f.load_json_file(path, max_bytes, SOURCE), str(path))


def _page_header(path: Path) -> Mapping[str, Any]:
    doc = orjson.loads(path.read_bytes())
    if not isinstance(doc, dict):
        raise ValueError("page is not an object")
    return doc


@dataclass
class NvdFeed:
    """The NVD CVE API, paged with startIndex/resultsPerPage until totalResults."""

    url: str = NVD_CVE_API
    """API endpoint."""
    api_key: str | None = None
    """Sent as the `apiKey` header; raises NVD's rate limit."""
    results_per_page: int = MAX_RESULTS_PER_PAGE
    """Page size (the API caps it at 2,000)."""
    page_delay: float = 6.0
    """Pause between pages: NVD asks for about 6 s without a key."""
    extra_params: Mapping[str, str] = field(default_factory=dict)
    """More query parameters (`lastModStartDate`/`lastModEndDate` for a window)."""
    max_pages: int = 1000
    """Stop (with an error) past this many pages, whatever totalResults says."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds, per page."""
    sleep: Sleep = time.sleep
    """Injected for tests."""
    name: str = SOURCE
    kind: FeedKind = "enrichment"
    version: int = 1

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Every page, each verified; UNCHANGED if every page hashes as last time.

        The CVE API has no conditional requests, so the fingerprint is the pages' hashes.
        """
        headers = {"apiKey": self.api_key} if self.api_key else None
        workdir = feed_workdir("nvd", self.policy.tmp_root)
        try:
            files: list[FetchedFile] = []
            parts: list[Validator] = []
            start, total = 0, None
            while total is None or start < total:
                if len(files) >= self.max_pages:
                    raise FetchError(self.name, f"more than {self.max_pages} pages", url=self.url)
                if files and self.page_delay > 0:
                    self.sleep(self.page_delay)
                params: dict[str, str | int] = {
                    **self.extra_params,
                    "startIndex": start,
                    "resultsPerPage": self.results_per_page,
                }
                name = f"page-{start:09d}.json"
                req = Request(
                    url=self.url, filename=name, params=params, headers=headers,
                    verify=verify_json, conditional=False,
                )  # fmt: skip
                v = download(
                    self.name, http, req, workdir / name, prev=None, policy=self.policy,
                    sleep=self.sleep,
                )  # fmt: skip
                assert v is not None  # unconditional requests never get 304
                head = _page_header(workdir / name)
                got = head.get("totalResults")
                per = head.get("resultsPerPage")
                if not isinstance(got, int) or not isinstance(per, int) or got < 0:
                    raise FetchError(
                        self.name, "page lacks totalResults/resultsPerPage", url=self.url
                    )
                if head.get("startIndex") != start:
                    raise FetchError(
                        self.name,
                        f"asked startIndex {start}, got {head.get('startIndex')}",
                        url=self.url,
                    )
                total = got
                # The page's `timestamp` changes on every call; hash the CVEs only, so an
                # unchanged database fetches as UNCHANGED.
                content = hashlib.sha256(orjson.dumps(head.get("vulnerabilities"))).hexdigest()
                parts.append(
                    Validator(url=f"{self.url}#startIndex={start}", sha256=content, size=v.size)
                )
                files.append(FetchedFile(path=workdir / name, url=self.url, label=str(start)))
                if per <= 0:
                    break
                start += per
            return paged_result(self.name, files, parts, prev, workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every CVE on every page."""
        for ff in fetched.files:
            yield from parse_file(ff.path, self.policy.max_bytes)
