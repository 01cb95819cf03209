"""Alpine secdb JSON (https://secdb.alpinelinux.org/<branch>/<repo>.json).

One file per branch (`v3.19`) and repository (`main`, `community`):
`{"apkurl", "archs", "reponame", "urlprefix", "distroversion", "packages": [{"pkg": {"name",
"secfixes": {"<fixed version>": ["CVE-…", …]}}}]}`. The secfixes come from the `# secfixes:`
comment block of each APKBUILD (https://wiki.alpinelinux.org/wiki/APKBUILD_Reference#secfixes):
a version lists the vulnerabilities it fixes, and the version `0` lists vulnerabilities the
package was never affected by (the flaw is in another distribution's build, say). An entry may
carry a second id for the same flaw after a space (`CVE-2018-7540 XSA-252`).

Names are aports *origin* (source) package names. One Advisory per vulnerability id gathers every
(branch, package) of the feed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dockwatch import distros
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
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    AffectedStatus,
    Event,
    EventKind,
    Range,
    RangeType,
    Reference,
    is_cve,
)

logger = logging.getLogger(__name__)

SECDB_URL = "https://secdb.alpinelinux.org"
SOURCE = "alpine"
REPOSITORIES = ("main", "community")
_BRANCH_RE = re.compile(r"v\d{1,2}\.\d{1,3}|edge")
_INTRODUCED_0 = Event(EventKind.INTRODUCED, "0")

# (vulnerability id) -> (branch, package) -> (aliases, fixed versions)
_Acc = dict[str, dict[tuple[str, str], tuple[set[str], set[str]]]]


def split_entry(entry: str) -> list[tuple[str, tuple[str, ...]]]:
    """One secfixes line as (id, aliases) pairs.

    `CVE-2018-7540 XSA-252` is one flaw with two names; `CVE-2019-1 CVE-2019-2` are two flaws
    fixed together, so each CVE on a line is its own id and other tokens are its aliases.
    """
    tokens = entry.split()
    if not tokens:
        return []
    cves = [t for t in tokens if is_cve(t)]
    others = tuple(t for t in tokens if not is_cve(t))
    if not cves:
        return [(tokens[0], tuple(tokens[1:]))]
    return [(c, others) for c in cves]


def collect_document(doc: object, where: str, acc: _Acc, label: str = "") -> Iterator[ParseProblem]:
    """Add one decoded secdb document's fixes to `acc`; yields problems for bad entries."""
    if not isinstance(doc, dict):
        raise FeedFormatError(SOURCE, "top level is not an object", path=where)
    branch = doc.get("distroversion") or label.split("/", 1)[0]
    if not isinstance(branch, str) or _BRANCH_RE.fullmatch(branch) is None:
        raise FeedFormatError(SOURCE, f"bad distroversion {str(branch)[:32]!r}", path=where)
    packages = doc.get("packages")
    if not isinstance(packages, list):
        raise FeedFormatError(SOURCE, "`packages` is not an array", path=where)
    for i, item in enumerate(packages):
        try:
            pkg = f.obj(f.obj(item, f"packages[{i}]").get("pkg"), f"packages[{i}].pkg")
            name = f.ident(pkg.get("name"), f"packages[{i}].pkg.name")
            secfixes = pkg.get("secfixes") or {}
            for ver, ids in f.obj(secfixes, f"{name}.secfixes").items():
                fixed = f.version(ver, f"{name}.secfixes")
                if ids is None or ids == {}:
                    continue  # an empty block (seen upstream as `{}`): nothing fixed
                for line in f.arr(ids, f"{name}.secfixes[{fixed}]"):
                    text = f.text(line, f"{name}.secfixes[{fixed}][]", limit=512)
                    for vuln_id, aliases in split_entry(text):
                        vid = f.ident(vuln_id, f"{name}.secfixes id")
                        slot = acc.setdefault(vid, {}).setdefault((branch, name), (set(), set()))
                        slot[0].update(aliases)
                        slot[1].add(fixed)
        except f.BadRecord as e:
            yield _problem(f"{where}:packages[{i}]", e.reason)


def build_advisories(acc: _Acc) -> Iterator[Advisory]:
    """One Advisory per vulnerability id, affected entries sorted for a stable fingerprint."""
    for vid in sorted(acc):
        affected: list[Affected] = []
        aliases: set[str] = set()
        for (branch, name), (als, fixed) in sorted(acc[vid].items()):
            aliases.update(als)
            real = sorted(v for v in fixed if v != "0")
            if real:
                events = (_INTRODUCED_0, *(Event(EventKind.FIXED, v) for v in real))
                ranges: tuple[Range, ...] = (Range(RangeType.ECOSYSTEM, events),)
                status = AffectedStatus.AFFECTED
            else:
                ranges, status = (), AffectedStatus.NOT_AFFECTED
            release = distros.by_feed_release("alpine", branch)
            ecosystem = release.ecosystem if release else f"Alpine:{branch}"
            affected.append(Affected(ecosystem=ecosystem, name=name, ranges=ranges, status=status))
        aliases.discard(vid)
        yield Advisory(
            id=AdvisoryID(vid),
            source=SOURCE,
            aliases=tuple(sorted(a for a in aliases if f.is_ident(a))),
            references=(Reference("ADVISORY", f"https://security.alpinelinux.org/vuln/{vid}"),),
            affected=tuple(affected),
        )


def _problem(where: str, reason: str) -> ParseProblem:
    logger.warning("alpine: skipped %s: %s", where, reason, extra={"feed": SOURCE})
    return ParseProblem(feed=SOURCE, where=where, reason=reason)


def parse_files(
    files: Sequence[tuple[Path, str]], max_bytes: int = 1 << 30
) -> Iterator[Advisory | ParseProblem]:
    """Advisories from secdb files given as (path, `branch/repo` label or "")."""
    acc: _Acc = {}
    for path, label in files:
        doc = f.load_json_file(path, max_bytes, SOURCE)
        yield from collect_document(doc, str(path), acc, label)
    yield from build_advisories(acc)


def default_branches() -> tuple[str, ...]:
    """The secdb branches of every Alpine release in the distros table."""
    return tuple(r.feed_release for r in distros.RELEASES if r.os_id == "alpine")


@dataclass
class AlpineFeed:
    """Alpine secdb, every configured branch and repository as one feed."""

    base_url: str = SECDB_URL
    """secdb root; files are `<base_url>/<branch>/<repo>.json`."""
    branches: tuple[str, ...] = field(default_factory=default_branches)
    """Branches to fetch (`v3.19`, ...)."""
    repositories: tuple[str, ...] = REPOSITORIES
    """Repositories per branch."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    version: int = 1

    def requests(self) -> list[Request]:
        """One request per (branch, repository)."""
        base = self.base_url.rstrip("/")
        return [
            Request(
                url=f"{base}/{b}/{r}.json",
                filename=f"{b}-{r}.json",
                label=f"{b}/{r}",
                verify=verify_json,
            )
            for b in self.branches
            for r in self.repositories
        ]

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """Conditional download of every branch/repository file."""
        return fetch_all(self.name, http, self.requests(), prev, self.policy, self.sleep)

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """Every advisory across the fetched files."""
        yield from parse_files([(ff.path, ff.label) for ff in fetched.files], self.policy.max_bytes)
