"""`dockwatch migrate-store --from DIR --to-database URL --to-blobs URL`: move a single-node
install to another database and blob store (PostgreSQL and S3), then verify the copy.

Run it with the servers of DIR stopped. Running it again is safe: a target that already holds
this copy is only completed (missing blobs) and verified again. Exit 0: copied and verified;
1: copied but the verification found a difference (listed); 2: refused (a target database
holding other data, bad URLs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2


def add_parser(sub: Any) -> None:
    """The `migrate-store` subcommand."""
    p = sub.add_parser(
        "migrate-store",
        help="copy a data folder's database and blobs to another database and blob store",
    )
    p.add_argument("--from", dest="source", type=Path, required=True, help="data folder to copy")
    p.add_argument(
        "--to-database",
        required=True,
        help="SQLAlchemy URL of the new database (postgresql+psycopg://..., sqlite:///...)",
    )
    p.add_argument(
        "--to-blobs", required=True, help="blob store URL: s3://bucket/prefix (AWS_* variables)"
    )


def run(args: argparse.Namespace) -> int:
    """Copy, verify, print the verification."""
    from dockwatch.config import from_env
    from dockwatch.events.secretbox import KEY_FILE
    from dockwatch.storage.store_copy import copy_install

    source_dir: Path = args.source
    if not (source_dir / "dockwatch.db").is_file():
        print(f"dockwatch: error: no dockwatch data folder at {source_dir}", file=sys.stderr)
        return EXIT_ERROR
    settings = from_env(data_dir=source_dir)
    report = copy_install(
        source_dir,
        args.to_database,
        args.to_blobs,
        settings.s3_addressing_style,
        progress=lambda m: print(m, file=sys.stderr) if sys.stderr.isatty() else None,
    )
    if report.already_copied:
        print("the target database already holds this copy: no row copied")
    print(f"{'table':40} {'source':>10} {'target':>10}")
    for t in report.tables:
        flag = "" if t.source == t.target else "  MISMATCH"
        print(f"{t.table:40} {t.source:>10} {t.target:>10}{flag}")
    good = sum(b.ok for b in report.blob_checks)
    print(
        f"blobs: {report.blobs_copied} copied, {report.blobs_present} already present; "
        f"{good} of {len(report.blob_checks)} verified by digest"
    )
    for b in report.blob_checks:
        if not b.ok:
            print(f"blob {b.digest}: {b.detail}")
    key = source_dir / KEY_FILE
    if key.exists():
        print(
            f"webhook secrets are sealed with {key}: set DOCKWATCH_WEBHOOK_SECRET_KEY to its "
            "content on every process of the new install"
        )
    print("verified" if report.verified else "verification FAILED")
    return EXIT_OK if report.verified else EXIT_MISMATCH
