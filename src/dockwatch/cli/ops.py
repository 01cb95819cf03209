"""`dockwatch backup|restore|fsck`: a data folder's safety net.

The work lives in `storage/backup.py` and `storage/fsck.py`; this module parses, prints and
chooses exit codes: 0 done (fsck: clean, or every problem repaired), 1 fsck found problems that
remain, 2 an error (a refused or invalid backup, a missing folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

COMMANDS = ("backup", "restore", "fsck")
EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


def add_parsers(sub: Any) -> None:
    """The three subcommands."""
    backup = sub.add_parser("backup", help="copy the database and blobs while the server runs")
    backup.add_argument(
        "--data", type=Path, default=None, help="data folder (default: $DOCKWATCH_DATA, else ./var)"
    )
    backup.add_argument("--to", type=Path, required=True, dest="to", help="backup folder to create")
    restore = sub.add_parser("restore", help="restore a backup into an empty data folder")
    restore.add_argument("--from", type=Path, required=True, dest="source", help="backup folder")
    restore.add_argument("--data", type=Path, required=True, help="data folder to create")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace a data folder that is not empty (stop its server first)",
    )
    fsck = sub.add_parser("fsck", help="check every blob's digest and every reference")
    fsck.add_argument(
        "--data", type=Path, default=None, help="data folder (default: $DOCKWATCH_DATA, else ./var)"
    )
    fsck.add_argument(
        "--repair", action="store_true", help="quarantine corrupt blobs and remove dangling rows"
    )
    fsck.add_argument("--json", action="store_true", help="machine-readable report")


def run(args: argparse.Namespace) -> int:
    """Run one of the subcommands; errors are one line on stderr and exit status 2."""
    from dockwatch.errors import DockwatchError

    try:
        if args.command == "backup":
            return _backup(args)
        if args.command == "restore":
            return _restore(args)
        return _fsck(args)
    except (DockwatchError, OSError) as exc:
        print(f"dockwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _settings(data: Path | None) -> Any:
    from dockwatch.config import from_env

    return from_env(data_dir=data)


def _backup(args: argparse.Namespace) -> int:
    from dockwatch.storage.backup import backup

    settings = _settings(args.data)
    if settings.database_url:
        print("dockwatch: error: backup copies the SQLite database of the data folder; "
              "back up an external database with its own tools", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    if settings.blob_url:
        print("dockwatch: error: backup copies the blob files of the data folder; blobs are in "
              f"{settings.blob_url}: protect them with the store's own versioning or replication",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    summary = backup(settings.data_dir, args.to)
    counts = ", ".join(
        f"{n} {k.replace('audit_log', 'audit entries')}" for k, n in summary.counts.items()
    )
    print(f"backed up {settings.data_dir} to {summary.path}: {summary.blobs} blobs "
          f"({summary.blob_bytes} bytes); {counts}")  # fmt: skip
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dockwatch.app import build
    from dockwatch.cli.audit import record_cli
    from dockwatch.storage.backup import restore

    summary = restore(args.source, args.data, force=args.force)
    services = build(replace(_settings(args.data), data_dir=args.data, database_url=None))
    try:
        record_cli(services, "restore", str(args.source.resolve()))
    finally:
        services.close()
    print(f"restored {args.source} into {summary.path}: {summary.blobs} blobs "
          f"({summary.blob_bytes} bytes), every digest verified")  # fmt: skip
    return EXIT_OK


def _fsck(args: argparse.Namespace) -> int:
    from dockwatch.app import build
    from dockwatch.cli.audit import record_cli
    from dockwatch.storage.blobs.filesystem import FilesystemBlobStore
    from dockwatch.storage.fsck import Fsck

    settings = _settings(args.data)
    if not settings.data_dir.is_dir():
        print(f"dockwatch: error: no data folder at {settings.data_dir}", file=sys.stderr)
        return EXIT_ERROR
    services = build(settings)
    if not isinstance(services.blobs, FilesystemBlobStore):
        services.close()
        print("dockwatch: error: fsck checks a data folder's blob files; blobs are in "
              f"{services.settings.blob_url}", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    try:
        report = Fsck(services.db, services.blobs, settings.data_dir).run(repair=args.repair)
        if args.repair and report.problems:
            fixed = sum(p.repaired for p in report.problems)
            record_cli(services, "fsck --repair", f"{fixed} of {len(report.problems)} problems")
    finally:
        services.close()
    if args.json:
        print(json.dumps({
            "clean": not report.problems,
            "checked": report.checked,
            "problems": [
                {"kind": p.kind, "subject": p.subject, "detail": p.detail, "repaired": p.repaired}
                for p in report.problems
            ],
            "quarantine": str(report.quarantine) if report.quarantine else None,
        }, indent=2))  # fmt: skip
    else:
        for p in report.problems:
            mark = " (repaired)" if p.repaired else ""
            print(f"{p.kind}: {p.subject}: {p.detail}{mark}")
        checked = ", ".join(f"{n} {k}" for k, n in report.checked.items())
        verdict = "clean" if not report.problems else f"{len(report.problems)} problems"
        left = len(report.unresolved)
        print(f"checked {checked}: {verdict}" + (f", {left} left" if report.problems else ""))
        if report.quarantine:
            print(f"corrupt blobs moved to {report.quarantine}")
    return EXIT_PROBLEMS if report.unresolved else EXIT_OK
