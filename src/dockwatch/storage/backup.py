"""Backups of a data folder, taken while the server runs, and their restore.

A backup is a folder::

    backup.json      format, time, counts, the metadata file's sha256, every blob's digest and size
    metadata.db      the SQLite database, copied with SQLite's online backup API (a consistent
                     snapshot; writers go on meanwhile), upload sessions left out
    blobs/sha256/ab/abcdef...   every blob the snapshot's `blobs` table names, verified by digest
    webhook-secret.key          the key sealing webhook secrets, when the data folder holds it

Blobs are copied after the snapshot: they are content-addressed and written once, so the set the
snapshot names is already complete on disk (a blob row is written only after its file), and a
blob pushed later is simply not in the backup, like the manifest that would name it. Each copy is
hashed on the way and checked against its digest. The backup is written under a temporary name
and renamed into place last, so a folder named like the destination is always complete.

A restore checks everything (the manifest, the metadata file's hash and integrity, every blob's
digest and size, the database's blobs against the manifest's) in a staging folder beside the
target, and renames it into place only when all of it holds: a truncated or corrupt backup is an
error and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockwatch.errors import Conflict, DockwatchError, InvalidInput, NotFound
from dockwatch.model.digest import ALGORITHMS
from dockwatch.value_class import frozen

FORMAT = 1
MANIFEST = "backup.json"
METADATA = "metadata.db"
DATABASE = "dockwatch.db"
"""The database file of a data folder (the default `database_url`)."""
EXTRA_FILES = ("webhook-secret.key",)
"""Files of the data folder kept beside the database (events/secretbox.py's key file)."""
COUNTED = ("repositories", "manifests", "tags", "blobs", "findings", "webhooks", "audit_log")
_CHUNK = 1024 * 1024


class BackupError(DockwatchError):
    """A backup or restore could not be done; nothing partial was left."""


class BackupInvalid(BackupError, InvalidInput):
    """The backup folder is not a complete, intact backup."""


class RestoreRefused(BackupError, Conflict):
    """The target data folder is not empty and `force` was not given."""


class SourceMissing(BackupError, NotFound):
    """The data folder has no database to back up."""


@frozen
class BackupSummary:
    """What a backup holds (also what a restore put back)."""

    path: Path
    blobs: int
    blob_bytes: int
    counts: dict[str, int] = field(default_factory=dict)


def blob_path(root: Path, digest: str) -> Path:
    """Where a blob lives under a data folder or a backup (the filesystem store's layout)."""
    algorithm, _, hexpart = digest.partition(":")
    if ALGORITHMS.get(algorithm) != len(hexpart) or not all(
        c in "0123456789abcdef" for c in hexpart
    ):
        raise BackupInvalid(f"not a digest: {digest!r}")
    return root / "blobs" / algorithm / hexpart[:2] / hexpart


def _copy_hashed(src: Path, dst: Path, algorithm: str = "sha256") -> tuple[str, int]:
    """Copy `src` to `dst` (fsynced), returning the `algorithm:hex` digest and size read."""
    hasher = hashlib.new(algorithm)
    size = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            hasher.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return f"{algorithm}:{hasher.hexdigest()}", size


def _fsync_tree(root: Path) -> None:
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _counts(db: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in COUNTED:
        if table in names:
            out[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return out


@contextlib.contextmanager
def _staging(final: Path, label: str) -> Iterator[Path]:
    """A fresh folder beside `final`, removed unless the block renamed it away."""
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = final.parent / f".{final.name}.{label}-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        yield stage
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def backup(data_dir: Path, dest: Path) -> BackupSummary:
    """Back up `data_dir` (its SQLite database, blobs and key file) into the new folder `dest`."""
    db_path = data_dir / DATABASE
    if not db_path.is_file():
        raise SourceMissing(f"no dockwatch database in {data_dir} (expected {db_path})")
    if dest.exists() and not _is_empty_dir(dest):
        raise RestoreRefused(f"{dest} already exists and is not empty; choose a new path")
    with _staging(dest, "partial") as stage:
        meta = stage / METADATA
        source = sqlite3.connect(db_path, timeout=30)
        try:
            target = sqlite3.connect(meta)
            try:
                source.backup(target)  # one step: a consistent snapshot of the whole database
            finally:
                target.close()
        finally:
            source.close()
        snapshot = sqlite3.connect(meta, isolation_level=None)
        try:
            snapshot.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            snapshot.execute("DELETE FROM uploads")  # sessions in flight: their bytes stay behind
            blobs = [(str(d), int(s)) for d, s in snapshot.execute(
                "SELECT digest, size FROM blobs ORDER BY digest"
            )]  # fmt: skip
            counts = _counts(snapshot)
        finally:
            snapshot.close()
        total = 0
        gone: list[str] = []
        for digest, size in blobs:
            src = blob_path(data_dir, digest)
            if not src.is_file():
                gone.append(digest)
                continue
            got, got_size = _copy_hashed(src, blob_path(stage, digest), digest.partition(":")[0])
            if got != digest or got_size != size:
                raise BackupError(
                    f"blob {digest} is corrupt in {data_dir} (its bytes hash to {got}); "
                    "run `dockwatch fsck --repair` first"
                )
            total += size
        if gone:
            counts = _drop_collected(meta, gone, data_dir)
            blobs = [(d, n) for d, n in blobs if d not in set(gone)]
        meta_digest, meta_size = _hash_file(meta)
        files = []
        for name in EXTRA_FILES:
            if (data_dir / name).is_file():
                digest, size = _copy_hashed(data_dir / name, stage / name)
                files.append({"name": name, "digest": digest, "size": size})
        doc = {
            "format": FORMAT,
            "createdAt": datetime.now(UTC).isoformat(),
            "metadata": {"name": METADATA, "digest": meta_digest, "size": meta_size},
            "counts": counts,
            "blobs": [{"digest": d, "size": s} for d, s in blobs],
            "files": files,
        }
        (stage / MANIFEST).write_bytes(json.dumps(doc, indent=1).encode())
        _fsync_tree(stage)
        if dest.exists():
            dest.rmdir()
        os.rename(stage, dest)
    return BackupSummary(dest, len(blobs), total, counts)


def _drop_collected(meta: Path, gone: list[str], data_dir: Path) -> dict[str, int]:
    """Blobs whose files vanished after the snapshot were removed by a concurrent gc, which
    only takes blobs no manifest names: their rows leave the backup too. A vanished blob that
    a manifest of the snapshot names is an error (the data folder is damaged: see fsck)."""
    snapshot = sqlite3.connect(meta, isolation_level=None)
    try:
        for digest in gone:
            named = snapshot.execute(
                "SELECT 1 FROM manifest_references WHERE digest = ? AND kind = 'blob' LIMIT 1",
                (digest,),
            ).fetchone()
            if named is not None:
                raise BackupError(
                    f"blob {digest}, named by a manifest, has no file in {data_dir}; "
                    "run `dockwatch fsck` to see what is damaged"
                )
            snapshot.execute("DELETE FROM repository_blobs WHERE digest = ?", (digest,))
            snapshot.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        return _counts(snapshot)
    finally:
        snapshot.close()


def _hash_file(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return f"sha256:{hasher.hexdigest()}", size


def read_manifest(src: Path) -> dict[str, Any]:
    """The backup's manifest, checked for shape; BackupInvalid when it is missing or wrong."""
    path = src / MANIFEST
    if not src.is_dir():
        raise BackupInvalid(f"{src} is not a backup folder")
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupInvalid(
            f"{src} has no {MANIFEST}: not a backup, or an incomplete one"
        ) from None
    except ValueError as exc:
        raise BackupInvalid(f"{path} is not valid JSON (truncated?): {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupInvalid(
            f"{path}: unknown backup format {doc.get('format')!r}"
            if isinstance(doc, dict)
            else f"{path}: not a backup manifest"
        )
    try:
        meta = doc["metadata"]
        entries = [(str(b["digest"]), int(b["size"])) for b in doc["blobs"]]
        files = [(str(f["name"]), str(f["digest"]), int(f["size"])) for f in doc["files"]]
        str(meta["digest"]), int(meta["size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupInvalid(f"{path}: a required field is missing or malformed ({exc})") from exc
    if any(name not in EXTRA_FILES for name, _, _ in files):
        raise BackupInvalid(f"{path}: names a file a backup never holds")
    doc["_blobs"], doc["_files"] = entries, files
    return doc


def restore(src: Path, data_dir: Path, *, force: bool = False) -> BackupSummary:
    """Restore the backup `src` into `data_dir`, which must be absent or empty unless `force`
    (then its content is replaced, once the whole backup has been verified)."""
    doc = read_manifest(src)
    if data_dir.exists() and not _is_empty_dir(data_dir) and not force:
        raise RestoreRefused(
            f"{data_dir} is not empty; restore into a new folder, or pass --force to replace it"
        )
    with _staging(data_dir, "restore") as stage:
        meta = doc["metadata"]
        if not (src / METADATA).is_file():
            raise BackupInvalid(f"{src} has no {METADATA}")
        got, size = _copy_hashed(src / METADATA, stage / DATABASE)
        if (got, size) != (meta["digest"], int(meta["size"])):
            raise BackupInvalid(
                f"{src / METADATA} is corrupt or truncated ({size} bytes hashing to {got}; "
                f"the backup recorded {meta['size']} bytes, {meta['digest']})"
            )
        db_blobs = _check_database(stage / DATABASE)
        listed = dict(doc["_blobs"])
        if db_blobs != listed:
            raise BackupInvalid(f"{src}: the database and {MANIFEST} disagree on the blobs")
        total = 0
        for digest, expected in doc["_blobs"]:
            path = blob_path(src, digest)
            if not path.is_file():
                raise BackupInvalid(f"blob {digest} is missing from {src}")
            got, size = _copy_hashed(path, blob_path(stage, digest), digest.partition(":")[0])
            if got != digest or size != expected:
                raise BackupInvalid(
                    f"blob {digest} is corrupt in {src} ({size} bytes hashing to {got})"
                )
            total += size
        for name, digest, expected in doc["_files"]:
            if not (src / name).is_file():
                raise BackupInvalid(f"{name} is missing from {src}")
            got, size = _copy_hashed(src / name, stage / name)
            if (got, size) != (digest, expected):
                raise BackupInvalid(f"{src / name} is corrupt or truncated")
            os.chmod(stage / name, 0o600)
        _fsync_tree(stage)
        _swap_into_place(stage, data_dir)
    counts = {k: int(v) for k, v in doc.get("counts", {}).items()}
    return BackupSummary(data_dir, len(listed), total, counts)


def _check_database(path: Path) -> dict[str, int]:
    """SQLite's integrity check of a restored database, and its blobs with their sizes."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupInvalid(
                    f"the backed-up database fails SQLite's integrity check: {verdict}"
                )
            return {str(d): int(s) for d, s in db.execute("SELECT digest, size FROM blobs")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise BackupInvalid(f"the backed-up database cannot be read: {exc}") from exc


def _swap_into_place(stage: Path, data_dir: Path) -> None:
    """Rename the verified staging folder to `data_dir`; an existing folder is moved aside
    first and removed only once the new one is in place."""
    old: Path | None = None
    if data_dir.exists():
        old = data_dir.parent / f".{data_dir.name}.replaced-{os.getpid()}"
        os.rename(data_dir, old)
    try:
        os.rename(stage, data_dir)
    except OSError:
        if old is not None:
            os.rename(old, data_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
