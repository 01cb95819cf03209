"""Red Hat's CSAF VEX files (https://security.access.redhat.com/data/csaf/v2/vex/): feed `redhat`.

The folder publishes one file per CVE (`2024/cve-2024-0208.json`), a dated archive of all of them
(`archive_latest.txt` names it: `csaf_vex_2025-12-06.tar.zst`), and `changes.csv` /
`deletions.csv` listing every file changed or removed, with the time, newest first.

- A full load (first run, a new parser version, or a new archive) downloads the archive and
  every file `changes.csv` lists as changed after the archive's date; the result replaces the
  source as a whole (`Fetched.complete`).
- An increment asks for `changes.csv` conditionally (ETag / Last-Modified): 304 is UNCHANGED;
  otherwise only the files changed since the last run's newest time are downloaded, and the
  files `deletions.csv` lists since then withdraw their CVE. The time reached is kept in the
  fingerprint (a validator for `#cursor`).
- `dockwatch db import` reads a VEX file, a folder of them, or the archive the same way.

What one document becomes is `redhat_vex.parse_document`.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson

from dockwatch.feeds import fields as f
from dockwatch.feeds.download import (
    DownloadPolicy,
    Request,
    Sleep,
    Verify,
    download,
    feed_workdir,
    verify_json,
)
from dockwatch.feeds.feed import (
    UNCHANGED,
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
from dockwatch.feeds.folder_walk import NOT_A_FILE, walk_files
from dockwatch.feeds.redhat_vex import SOURCE as SOURCE
from dockwatch.feeds.redhat_vex import csv_rows, cve_of_path, parse_document
from dockwatch.model.advisory import Advisory, AdvisoryID, to_utc

logger = logging.getLogger(__name__)

VEX_URL = "https://security.access.redhat.com/data/csaf/v2/vex/"
MAX_DOCUMENT = 64 << 20
"""A larger VEX document is refused (the largest published ones are a few MB)."""
MAX_INCREMENT = 20_000
"""More changed files than this since the last run: load the archive instead."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CURSOR = "#cursor"
LABEL_ARCHIVE = "archive"
LABEL_DELETIONS = "deletions"


def _problem(where: str, reason: str) -> ParseProblem:
    logger.warning("redhat: skipped %s: %s", where, reason, extra={"feed": SOURCE})
    return ParseProblem(feed=SOURCE, where=where, reason=reason)


def parse_bytes(data: bytes, where: str) -> Iterator[FeedItem]:
    """The advisory of one VEX document's bytes (nothing when it names no RHEL package)."""
    try:
        adv = parse_document(orjson.loads(data))
    except orjson.JSONDecodeError as e:
        yield _problem(where, f"invalid JSON: {e}")
        return
    except f.BadRecord as e:
        yield _problem(where, e.reason)
        return
    if adv is not None:
        yield adv


def is_archive(path: Path) -> bool:
    """A zstd-compressed (or plain) tar of VEX files."""
    name = path.name.lower()
    if name.endswith((".tar.zst", ".tar.zstd")):
        return True
    with path.open("rb") as fh:
        return fh.read(4) == ZSTD_MAGIC


def parse_archive(path: Path, max_document: int = MAX_DOCUMENT) -> Iterator[FeedItem]:
    """Every VEX document of a `.tar.zst` archive, streamed member by member."""
    import zstandard

    try:
        with path.open("rb") as raw:
            head = raw.read(4)
            raw.seek(0)
            stream: io.BufferedIOBase | zstandard.ZstdDecompressionReader = (
                zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
                if head == ZSTD_MAGIC
                else raw
            )
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    if not member.isfile() or not member.name.lower().endswith(".json"):
                        continue
                    where = f"{path}:{member.name}"
                    if member.size > max_document:
                        yield _problem(where, f"{member.size} bytes, over the document cap")
                        continue
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield from parse_bytes(fh.read(), where)
    except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as e:
        raise FeedFormatError(SOURCE, f"unreadable archive: {e}", path=str(path)) from e


def parse_path(path: Path, max_document: int = MAX_DOCUMENT) -> Iterator[FeedItem]:
    """A VEX file, an archive, or every `*.json` under a folder (sorted, hidden entries skipped)."""
    if path.is_dir():
        for folder in walk_files(path):
            for name in folder.files:
                if name.lower().endswith(".json"):
                    yield from parse_path(Path(folder.path, name), max_document)
            for name in folder.others:
                if name.lower().endswith(".json"):
                    yield _problem(os.path.join(folder.path, name), NOT_A_FILE)
        return
    if is_archive(path):
        yield from parse_archive(path, max_document)
        return
    try:
        data = f.read_bounded(path, max_document)
    except (OSError, f.TooBig) as e:
        yield _problem(str(path), f"cannot read: {e}")
        return
    yield from parse_bytes(data, str(path))


def parse_deletions(path: Path) -> Iterator[FeedItem]:
    """A withdrawn advisory per CVE file a `deletions.csv` extract lists."""
    for rel, when in csv_rows(path.read_text(errors="replace").splitlines()):
        try:
            stamp = to_utc(datetime.fromisoformat(when))
        except ValueError:
            yield _problem(f"{path}:{rel}", f"bad time {when[:40]!r}")
            continue
        yield Advisory(id=AdvisoryID(cve_of_path(rel)), source=SOURCE, withdrawn=stamp)


def verify_zstd(path: Path) -> None:
    """The zstd stream decodes to the end of its last frame (a cut-off download does not)."""
    import zstandard

    dobj = None
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(1 << 16):
                while chunk:
                    if dobj is None or dobj.eof:
                        dobj = zstandard.ZstdDecompressor().decompressobj()
                    dobj.decompress(chunk)
                    chunk = dobj.unused_data if dobj.eof else b""
    except zstandard.ZstdError as e:
        raise ValueError(f"not a zstd stream: {e}") from e
    if dobj is None or not dobj.eof:
        raise ValueError("the zstd stream ends inside a frame")


def _archive_date(name: str) -> str:
    """`csaf_vex_2025-12-06.tar.zst` -> `2025-12-06` ("" when the name carries no date)."""
    stem = name.rsplit("_", 1)[-1].split(".", 1)[0]
    return stem if len(stem) == 10 and stem[4] == "-" and stem[7] == "-" else ""


@dataclass
class RedHatFeed:
    """Red Hat's VEX folder as one feed: archive for a full load, `changes.csv` increments."""

    base_url: str = VEX_URL
    """The folder holding `archive_latest.txt`, `changes.csv`, `deletions.csv` and the files."""
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    """Download bounds."""
    sleep: Sleep = time.sleep
    """Injected for tests of Retry-After."""
    name: str = SOURCE
    kind: FeedKind = "vulnerability"
    version: int = 1

    def _url(self, rel: str) -> str:
        return self.base_url.rstrip("/") + "/" + rel.lstrip("/")

    def _get(
        self,
        http: httpx.Client,
        workdir: Path,
        rel: str,
        prev: Validator | None,
        *,
        conditional: bool = True,
        verify: Verify | None = None,
    ) -> Validator | None:
        req = Request(self._url(rel), rel.replace("/", "_"), verify=verify, conditional=conditional)
        return download(
            self.name, http, req, workdir / req.filename, prev=prev, policy=self.policy,
            sleep=self.sleep,
        )  # fmt: skip

    def fetch(self, prev: Fingerprint | None, http: httpx.Client) -> Fetched | Unchanged:
        """A full load or an increment, whichever the stored fingerprint allows."""
        workdir = feed_workdir("redhat", self.policy.tmp_root)
        try:
            result = self._fetch(prev, http, workdir)
        except BaseException:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if result is UNCHANGED:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        return result

    def _fetch(
        self, prev: Fingerprint | None, http: httpx.Client, workdir: Path
    ) -> Fetched | Unchanged:
        latest = self._get(http, workdir, "archive_latest.txt", None, conditional=False)
        assert latest is not None
        archive = (workdir / "archive_latest.txt").read_text(errors="replace").strip()
        if not archive or "/" in archive or not archive.endswith(".tar.zst"):
            raise FetchError(self.name, f"bad archive_latest.txt {archive[:64]!r}", url=latest.url)
        cursor = prev.for_url(self._url(CURSOR)) if prev is not None else None
        known = prev.for_url(self._url(archive)) if prev is not None else None
        if cursor is None or known is None or not cursor.last_modified:
            return self._full(http, workdir, archive)
        before = prev.for_url(self._url("changes.csv")) if prev is not None else None
        changes = self._get(http, workdir, "changes.csv", before)
        if changes is None:
            return UNCHANGED
        since = cursor.last_modified
        rows = csv_rows((workdir / "changes.csv").read_text(errors="replace").splitlines())
        deleted = self._deletions(http, workdir, since)
        fresh = _newest_per_path(r for r in rows if r[1] > since and r[1] > deleted.get(r[0], ""))
        if len(fresh) > MAX_INCREMENT:
            return self._full(http, workdir, archive)
        files = [FetchedFile(workdir / "deletions-since.csv", label=LABEL_DELETIONS)]
        files += self._documents(http, workdir, fresh)
        top = max([since, *(w for _, w in fresh), *deleted.values()])
        parts = (known, changes, Validator(url=self._url(CURSOR), last_modified=top))
        return Fetched(self.name, tuple(files), Fingerprint(parts), workdir, complete=False)

    def _full(self, http: httpx.Client, workdir: Path, archive: str) -> Fetched:
        got = self._get(http, workdir, archive, None, conditional=False, verify=verify_zstd)
        assert got is not None
        changes = self._get(http, workdir, "changes.csv", None, conditional=False)
        assert changes is not None
        rows = csv_rows((workdir / "changes.csv").read_text(errors="replace").splitlines())
        day = _archive_date(archive)
        deleted = self._deletions(http, workdir, day)
        fresh = _newest_per_path(
            r for r in rows if day and r[1][:10] >= day and r[1] > deleted.get(r[0], "")
        )
        files = [FetchedFile(workdir / archive.replace("/", "_"), got.url, LABEL_ARCHIVE)]
        files.append(FetchedFile(workdir / "deletions-since.csv", label=LABEL_DELETIONS))
        files += self._documents(http, workdir, fresh)
        top = max([w for _, w in rows] or [day])
        parts = (got, changes, Validator(url=self._url(CURSOR), last_modified=top))
        return Fetched(self.name, tuple(files), Fingerprint(parts), workdir, complete=True)

    def _deletions(self, http: httpx.Client, workdir: Path, since: str) -> dict[str, str]:
        """Paths deleted after `since` (newest time each), also written to `deletions-since.csv`
        for `parse`."""
        self._get(http, workdir, "deletions.csv", None, conditional=False)
        lines = (workdir / "deletions.csv").read_text(errors="replace").splitlines()
        kept = dict(_newest_per_path(r for r in csv_rows(lines) if r[1] > since))
        (workdir / "deletions-since.csv").write_text(
            "\n".join(f'"{p}","{w}"' for p, w in kept.items())
        )
        return kept

    def _documents(
        self, http: httpx.Client, workdir: Path, rows: list[tuple[str, str]]
    ) -> list[FetchedFile]:
        files = []
        for rel, _when in rows:
            got = self._get(http, workdir, rel, None, conditional=False, verify=verify_json)
            assert got is not None
            files.append(FetchedFile(workdir / rel.replace("/", "_"), got.url, "document"))
        return files

    def parse(self, fetched: Fetched) -> Iterator[FeedItem]:
        """The archive first, then the files changed since (a later record of a CVE wins),
        then the withdrawals."""
        for ff in fetched.files:
            if ff.label == LABEL_DELETIONS:
                yield from parse_deletions(ff.path)
            else:
                yield from parse_path(ff.path)


def _newest_per_path(
    rows: Iterator[tuple[str, str]] | list[tuple[str, str]],
) -> list[tuple[str, str]]:
    """One row per path (its newest time), oldest first."""
    newest: dict[str, str] = {}
    for path, when in rows:
        if when > newest.get(path, ""):
            newest[path] = when
    return sorted(newest.items(), key=lambda kv: (kv[1], kv[0]))
