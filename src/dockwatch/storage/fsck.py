"""A consistency check of a data folder, and the repairs that are safe.

Checked: every blob file hashes to its name and has its row's size (`corrupt_blob`); every blob
row has its file (`missing_blob`); every stored manifest hashes to its digest
(`corrupt_manifest`); every blob a manifest names (config, layers) is stored intact
(`missing_reference`) and linked to the manifest's repository (`missing_link`); every manifest
an index names is in the same repository (`missing_child`); every tag points at a manifest of
its repository (`dangling_tag`); no link row names a blob without a row, and no upload row has
lost its file (`orphan_row`, `dangling_upload`).

`repair` does only what loses nothing intact: a corrupt blob file is moved into
`quarantine/<time>/` and its rows removed (a client can push it again), a missing blob's rows
are removed, a missing link is added, dangling tag, orphan and upload rows are removed. Problems
that need the content back (a manifest whose blob or child is gone, a corrupt manifest) are
reported and left, as deleting a manifest would delete an image a client can still repair by
pushing again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select

from dockwatch.errors import DockwatchError
from dockwatch.model.digest import Digest
from dockwatch.model.oci import manifest_digest, parse_manifest
from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database
from dockwatch.value_class import frozen

logger = logging.getLogger(__name__)

REPAIRABLE = frozenset(
    {
        "corrupt_blob",
        "missing_blob",
        "missing_link",
        "dangling_tag",
        "orphan_row",
        "dangling_upload",
    }
)


@frozen
class Problem:
    """One inconsistency; `subject` names what is wrong, `detail` says how."""

    kind: str
    subject: str
    detail: str
    repaired: bool = False


@dataclass(slots=True)
class FsckReport:
    """Every problem found, what was checked, and where quarantined files went."""

    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    quarantine: Path | None = None

    @property
    def unresolved(self) -> list[Problem]:
        """Problems still there (all of them when nothing was repaired)."""
        return [p for p in self.problems if not p.repaired]


def _file_digest(path: Path, algorithm: str) -> tuple[str, int] | None:
    hasher = hashlib.new(algorithm)
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                hasher.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return f"{algorithm}:{hasher.hexdigest()}", size


@dataclass(slots=True)
class _Fixes:
    """The repairs to apply, each with the problem it resolves."""

    items: list[tuple[Problem, Callable[[Connection], None]]] = field(default_factory=list)

    def add(self, problem: Problem, fix: Callable[[Connection], None]) -> Problem:
        self.items.append((problem, fix))
        return problem


class Fsck:
    """Checks one data folder (its SQLite or PostgreSQL database and its blob files)."""

    def __init__(self, db: Database, blobs: FilesystemBlobStore, data_dir: Path) -> None:
        self.db = db
        self.blobs = blobs
        self.data_dir = data_dir
        self._quarantine: Path | None = None

    def run(self, repair: bool = False) -> FsckReport:
        """Check everything; with `repair`, apply the safe repairs and mark what they fixed."""
        report = FsckReport()
        fixes = _Fixes()
        bad_blobs = self._check_blobs(report, fixes)
        with self.db.read() as conn:
            self._check_manifests(conn, report, fixes, bad_blobs)
            self._check_rows(conn, report, fixes)
        if repair and fixes.items:
            report.problems = self._repair(report.problems, fixes)
            report.quarantine = self._quarantine
        return report

    # --- checks ----------------------------------------------------------------------------

    def _check_blobs(self, report: FsckReport, fixes: _Fixes) -> set[str]:
        with self.db.read() as conn:
            rows = {r.digest: int(r.size) for r in conn.execute(select(t.blobs))}
        files = {str(d) for d in self.blobs.digests()}
        bad: set[str] = set()
        for digest in sorted(files):
            got = _file_digest(self.blobs.local_path(Digest(digest)), digest.partition(":")[0])
            if got is None:
                continue  # removed while we looked (gc)
            actual, size = got
            if actual == digest and (digest not in rows or rows[digest] == size):
                continue
            bad.add(digest)
            why = (
                f"its bytes hash to {actual}"
                if actual != digest
                else f"{size} bytes where the registry recorded {rows[digest]}"
            )
            report.problems.append(
                fixes.add(
                    Problem("corrupt_blob", digest, why),
                    partial(self._quarantine_blob, digest=digest),
                )
            )
        for digest in sorted(set(rows) - files):
            bad.add(digest)
            report.problems.append(
                fixes.add(
                    Problem("missing_blob", digest, "recorded, but its file is gone"),
                    partial(_forget_blob, digest=digest),
                )
            )
        report.checked["blobs"] = len(files)
        return bad

    def _check_manifests(
        self, conn: Connection, report: FsckReport, fixes: _Fixes, bad_blobs: set[str]
    ) -> None:
        blob_rows = {r.digest for r in conn.execute(select(t.blobs.c.digest))} - bad_blobs
        links = {(r.repository_id, r.digest) for r in conn.execute(select(t.repository_blobs))}
        names = {r.id: r.name for r in conn.execute(select(t.repositories))}
        in_repo = {(r.repository_id, r.digest) for r in conn.execute(select(t.manifests))}
        contents = {
            r.digest: (r.media_type, bytes(r.content))
            for r in conn.execute(select(t.manifest_contents))
        }
        manifests = list(conn.execute(select(t.manifests)))
        for m in manifests:
            where = f"{names.get(m.repository_id, m.repository_id)}@{m.digest}"
            stored = contents.get(m.digest)
            if stored is None:
                report.problems.append(Problem("corrupt_manifest", where, "its content is gone"))
                continue
            media_type, content = stored
            if manifest_digest(content) != m.digest:
                report.problems.append(
                    Problem(
                        "corrupt_manifest",
                        where,
                        f"its content hashes to {manifest_digest(content)}",
                    )
                )
                continue
            try:
                parsed = parse_manifest(content, media_type, strict=False)
            except DockwatchError as exc:
                report.problems.append(Problem("corrupt_manifest", where, f"unreadable: {exc}"))
                continue
            for d in parsed.blobs:
                if d.urls:
                    continue  # a foreign layer, served from its urls (as the registry rules)
                if d.digest not in blob_rows:
                    report.problems.append(
                        Problem(
                            "missing_reference",
                            where,
                            f"blob {d.digest} is not stored intact; push the image again",
                        )
                    )
                elif (m.repository_id, d.digest) not in links:
                    link = (m.repository_id, d.digest, m.account_id, m.region)
                    report.problems.append(
                        fixes.add(
                            Problem(
                                "missing_link",
                                where,
                                f"blob {d.digest} is not linked to the repository",
                            ),
                            partial(_link, link=link),
                        )
                    )
                    links.add((m.repository_id, d.digest))
            for child in parsed.manifests:
                if (m.repository_id, child.digest) not in in_repo:
                    report.problems.append(
                        Problem(
                            "missing_child",
                            where,
                            f"manifest {child.digest} is not in the repository; push it again",
                        )
                    )
        report.checked["manifests"] = len(manifests)

    def _check_rows(self, conn: Connection, report: FsckReport, fixes: _Fixes) -> None:
        names = {r.id: r.name for r in conn.execute(select(t.repositories))}
        in_repo = {(r.repository_id, r.digest) for r in conn.execute(select(t.manifests))}
        tags = list(conn.execute(select(t.tags)))
        for tag in tags:
            if (tag.repository_id, tag.manifest_digest) not in in_repo:
                key = (tag.repository_id, tag.name)
                report.problems.append(
                    fixes.add(
                        Problem(
                            "dangling_tag",
                            f"{names.get(tag.repository_id, tag.repository_id)}:{tag.name}",
                            f"points at {tag.manifest_digest}, which is not in the repository",
                        ),
                        partial(_delete_tag, key=key),
                    )
                )
        blob_rows = {r.digest for r in conn.execute(select(t.blobs.c.digest))}
        for link in conn.execute(select(t.repository_blobs)):
            if link.digest not in blob_rows:
                key = (link.repository_id, link.digest)
                report.problems.append(
                    fixes.add(
                        Problem(
                            "orphan_row",
                            f"repository_blobs {names.get(link.repository_id)}/{link.digest}",
                            "links a blob without a row",
                        ),
                        partial(_unlink, key=key),
                    )
                )
        manifest_ids = {r.id for r in conn.execute(select(t.manifests.c.id))}
        orphan_refs = {
            r.manifest_id
            for r in conn.execute(select(t.manifest_references.c.manifest_id))
            if r.manifest_id not in manifest_ids
        }
        for mid in sorted(orphan_refs):
            report.problems.append(
                fixes.add(
                    Problem(
                        "orphan_row",
                        f"manifest_references of manifest {mid}",
                        "the manifest row is gone",
                    ),
                    partial(_drop_references, manifest_id=mid),
                )
            )
        on_disk = {u for u, _ in self.blobs.upload_ids()}
        for upload in conn.execute(select(t.uploads)):
            if upload.id not in on_disk:
                report.problems.append(
                    fixes.add(
                        Problem(
                            "dangling_upload", upload.id, "an upload session whose bytes are gone"
                        ),
                        partial(_drop_upload, upload_id=upload.id),
                    )
                )
        report.checked["tags"] = len(tags)

    # --- repairs ---------------------------------------------------------------------------

    def _repair(self, problems: list[Problem], fixes: _Fixes) -> list[Problem]:
        done: set[int] = set()
        with self.db.write() as conn:
            for problem, fix in fixes.items:
                fix(conn)
                done.add(id(problem))
        return [replace(p, repaired=True) if id(p) in done else p for p in problems]

    def _quarantine_blob(self, conn: Connection, digest: str) -> None:
        """Move a corrupt blob file aside (again checked under the write lock: an intact copy
        pushed meanwhile stays) and forget its rows."""
        path = self.blobs.local_path(Digest(digest))
        got = _file_digest(path, digest.partition(":")[0])
        if got is not None and got[0] == digest:
            return
        if got is not None:
            if self._quarantine is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                self._quarantine = self.data_dir / "quarantine" / stamp
            target = self._quarantine / digest.replace(":", "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            logger.warning("quarantined corrupt blob %s to %s", digest, target)
        _forget_blob(conn, digest)


def _forget_blob(conn: Connection, digest: str) -> None:
    conn.execute(delete(t.repository_blobs).where(t.repository_blobs.c.digest == digest))
    conn.execute(delete(t.blobs).where(t.blobs.c.digest == digest))


def _link(conn: Connection, link: tuple[int, str, str, str]) -> None:
    repo_id, digest, account, region = link
    conn.execute(
        insert(t.repository_blobs).values(
            repository_id=repo_id, digest=digest, account_id=account, region=region,
            linked_at=datetime.now(UTC),
        )
    )  # fmt: skip


def _delete_tag(conn: Connection, key: tuple[int, str]) -> None:
    repo_id, name = key
    conn.execute(delete(t.tags).where(t.tags.c.repository_id == repo_id, t.tags.c.name == name))


def _unlink(conn: Connection, key: tuple[int, str]) -> None:
    repo_id, digest = key
    rb = t.repository_blobs
    conn.execute(delete(rb).where(rb.c.repository_id == repo_id, rb.c.digest == digest))


def _drop_references(conn: Connection, manifest_id: int) -> None:
    mr = t.manifest_references
    conn.execute(delete(mr).where(mr.c.manifest_id == manifest_id))


def _drop_upload(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(t.uploads).where(t.uploads.c.id == upload_id))
