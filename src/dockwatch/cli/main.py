"""`dockwatch serve|gc|config` — the command line.

Imports are deferred into each command so that quick commands start fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from dockwatch.cli.args import add_image_source_arguments

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

STARTS_ITSELF = ("serve", "worker", "db")
"""Commands that say when their start is over (`start_pause.command_started`): once their modules
are imported, before the database is opened (a migration at start runs with the collector).
The others start when their arguments are read."""


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data folder (default: $DOCKWATCH_DATA, else ./var)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockwatch",
        description="A self-hosted container registry with continuous vulnerability scanning.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the registry, API and scanners")
    _add_data(serve)
    serve.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default 5000)")
    serve.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate for HTTPS")
    serve.add_argument("--tls-key", type=Path, default=None, help="PEM private key for HTTPS")
    serve.add_argument(
        "--no-auth", action="store_true", help="serve without credentials (local experiments only)"
    )
    serve.add_argument(
        "--test-mode", action="store_true", help=argparse.SUPPRESS
    )  # lets tests move the clock
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="API only: scans, feed syncs, periodic passes and webhooks run in `dockwatch worker`",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database at start (DOCKWATCH_MIGRATE_AT_START=false)",
    )

    gc = sub.add_parser("gc", help="remove unreferenced blobs and abandoned uploads")
    _add_data(gc)
    gc.add_argument(
        "--grace-seconds",
        type=int,
        default=3600,
        help="keep unreferenced blobs younger than this (pushes in flight)",
    )

    db = sub.add_parser("db", help="the vulnerability database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_import = db_sub.add_parser(
        "import", help="import advisory files or folders (format detected)"
    )
    _add_data(db_import)
    db_import.add_argument("paths", nargs="+", type=Path, help="files or folders to import")
    db_sync = db_sub.add_parser("sync", help="fetch every configured feed from upstream")
    _add_data(db_sync)
    db_sync.add_argument("--feed", action="append", default=[], help="only this feed (repeatable)")
    db_status = db_sub.add_parser("status", help="database version, sources and their age")
    _add_data(db_status)
    db_status.add_argument("--json", action="store_true", help="machine-readable output")
    db_export = db_sub.add_parser("export", help="write an offline bundle for air-gapped sites")
    _add_data(db_export)
    db_export.add_argument("file", type=Path, help="bundle to write (.dwdb)")

    sbom = sub.add_parser("sbom", help="list every package in an image (an SBOM)")
    sbom.add_argument(
        "image",
        help="oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or docker://HOST/REPO[:TAG]",
    )
    sbom.add_argument(
        "--format",
        choices=("json", "cyclonedx-json", "spdx-json"),
        default="json",
        help="output format (default json)",
    )
    add_image_source_arguments(sbom)
    sbom.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    sbom.add_argument("--output", "-o", type=Path, default=None, help="write to FILE, not stdout")

    from dockwatch.cli.scan import add_parser as add_scan_parser

    add_scan_parser(sub)
    from dockwatch.cli.ops import add_parsers as add_ops_parsers

    add_ops_parsers(sub)
    from dockwatch.cli.accounts import add_parsers as add_accounts_parsers

    add_accounts_parsers(sub)
    from dockwatch.cli.processes import add_parsers as add_process_parsers

    add_process_parsers(sub)
    from dockwatch.cli.migrate_store import add_parser as add_migrate_store_parser

    add_migrate_store_parser(sub)

    config = sub.add_parser("config", help="settings")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate settings and print warnings")
    _add_data(check)
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from dockwatch.config import from_env

    return from_env(data_dir=getattr(args, "data", None), **extra)


def _serve(args: argparse.Namespace) -> int:
    from dockwatch.cli.serve import run

    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        auth=False if args.no_auth else None,
        test_mode=True if args.test_mode else None,
        migrate_at_start=False if args.no_migrate else None,
    )
    return run(args, settings)


def _gc(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from dockwatch.app import build
    from dockwatch.cli.audit import record_cli

    services = build(_settings(args))
    report = services.registry.gc(timedelta(seconds=args.grace_seconds))
    record_cli(services, "gc", f"{report.blobs_removed} blobs, {report.uploads_removed} uploads")
    print(
        f"removed {report.blobs_removed} blobs ({report.bytes_freed} bytes), "
        f"{report.uploads_removed} uploads, {report.orphan_files_removed} orphan files, "
        f"{report.manifest_contents_removed} manifest contents"
    )
    return EXIT_OK


def _progress() -> Any:
    """A one-line progress display on a terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None

    def say(message: str) -> None:
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)

    return say


def _db(args: argparse.Namespace) -> int:
    import json

    from dockwatch.cli.start_pause import command_started
    from dockwatch.store_root import open_store
    from dockwatch.vulndb.service import VulnDb

    if args.db_command in ("import", "sync"):  # their modules, with the collector paused
        import dockwatch.vulndb.importer
        import dockwatch.vulndb.runner  # noqa: F401
    command_started()  # before the database is opened (and migrated at start)
    services = open_store(_settings(args))
    vdb = VulnDb(services.store, services.clock, services.tenant.account_id, services.tenant.region)
    if args.db_command == "import":
        from dockwatch.cli.audit import record_cli
        from dockwatch.vulndb.importer import import_paths

        paths = " ".join(str(p) for p in args.paths)
        try:
            report = import_paths(vdb, args.paths, _progress())
        except FileNotFoundError as exc:
            print(f"dockwatch: error: no such file or folder: {exc}", file=sys.stderr)
            return EXIT_ERROR
        record_cli(services, "db import", paths, ok=bool(report.results))
        if sys.stderr.isatty():
            print(file=sys.stderr)
        for r in report.results:
            state = f"version {r.version}" if r.changed else "no change"
            counts = (
                f"{len(r.added)} added, {len(r.modified)} modified, {len(r.withdrawn)} withdrawn"
            )
            print(f"{r.source}: {counts}, {r.unchanged} unchanged ({state})")
        if report.problems:
            print(f"skipped {len(report.problems)} malformed records (see the log for each reason)")
        if report.not_files:
            shown = ", ".join(report.not_files[:3]) + (", ..." if len(report.not_files) > 3 else "")
            print(
                f"not read: {len(report.not_files)} entries that are not regular files"
                f" (pipes, sockets, devices, broken links): {shown}"
            )
        if not report.results:
            print("nothing recognised to import", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_OK
    if args.db_command == "sync":
        import httpx

        from dockwatch.vulndb.runner import configured_feeds, parse_url_overrides, sync
        from dockwatch.vulndb.scheduler import LEASE_TTL
        from dockwatch.vulndb.sync_lease import holder_name

        feeds = configured_feeds(parse_url_overrides(services.settings.feed_urls), args.feed)
        holder = holder_name("db-sync:")

        def renew() -> None:
            vdb.acquire_sync_lease(holder, LEASE_TTL)

        if not vdb.acquire_sync_lease(holder, LEASE_TTL):
            held = vdb.sync_lease()
            by = (
                f": {held[0]} holds the sync lease until {held[1]:%Y-%m-%d %H:%M:%S} UTC"
                if held
                else ""
            )
            print(
                "dockwatch: error: another feed sync is running (the server's schedule or "
                f"another `db sync`){by}; try again when it ends",
                file=sys.stderr,
            )
            return EXIT_ERROR
        try:
            with httpx.Client(timeout=60, follow_redirects=True) as http:
                outcomes = sync(
                    vdb,
                    feeds,
                    http,
                    _progress(),
                    renew=renew,
                )
        finally:
            vdb.release_sync_lease(holder)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        for o in outcomes:
            detail = o.error or (
                f"version {o.result.version}" if o.result and o.result.changed else ""
            )
            print(f"{o.feed}: {o.status} {detail}".rstrip())
        return EXIT_ERROR if any(o.status == "failed" for o in outcomes) else EXIT_OK
    if args.db_command == "status":
        from datetime import timedelta

        status = vdb.status(timedelta(hours=services.settings.feed_stale_hours))
        if args.json:
            print(json.dumps(status, indent=2))
        else:
            print(
                f"version {status['version']}, {status['advisories']} advisories, built {status['builtAt']}"
            )
            for src in status["sources"]:
                err = f"  last error: {src['lastError']}" if src["lastError"] else ""
                print(
                    f"  {src['name']:24} {src['advisories']:>7}  updated {src['updatedAt']}"
                    f"  last success {src['lastSuccessAt']}  last attempt {src['lastAttemptAt']}{err}"
                )
            for src in status["sources"]:
                if src["stale"]:
                    print(
                        f"warning: {src['name']} is stale: last successful sync "
                        f"{src['lastSuccessAt'] or 'never'} (older than "
                        f"{services.settings.feed_stale_hours} h)",
                        file=sys.stderr,
                    )
        return EXIT_OK
    if args.db_command == "export":
        from dockwatch.vulndb.bundle import export_bundle

        written = export_bundle(vdb, args.file)
        print(
            f"wrote {written['advisories']} advisories and {written['enrichment']} "
            f"enrichment records to {args.file}"
        )
        return EXIT_OK
    return EXIT_ERROR


def _sbom(args: argparse.Namespace) -> int:
    """Catalogue one image and print its SBOM; every failure is one line and exit status 2."""
    import time

    from dockwatch.errors import DockwatchError

    started = time.monotonic()
    show = not args.quiet and sys.stderr.isatty()
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here

    try:
        from dockwatch.catalog.service import catalog_image
        from dockwatch.cli.scan import layer_progress, parse_creds, write_output
        from dockwatch.reports.sbom import render

        creds = parse_creds(args.creds)
        try:
            inventory = catalog_image(
                args.image,
                args.platform,
                creds=creds,
                tls_verify=args.tls_verify != "false",
                progress=layer_progress(show, started),
            )
        finally:
            if show:
                print("\r\033[K", end="", file=sys.stderr, flush=True)
        if not write_output(render(inventory, args.format), args.output):
            return EXIT_OK
    except (DockwatchError, OSError, ValueError) as exc:
        print(f"dockwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the CLI boundary: a bug is reported in one line, never a traceback
        logging.getLogger("dockwatch.cli").debug("sbom failed", exc_info=True)
        print(f"dockwatch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for warning in inventory.warnings[:20]:
        print(f"dockwatch: warning: {warning}", file=sys.stderr)
    if len(inventory.warnings) > 20:
        print(f"dockwatch: warning: and {len(inventory.warnings) - 20} more", file=sys.stderr)
    if show:
        print(
            f"{len(inventory.packages)} packages in {len(inventory.layers)} layers, "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
    return EXIT_OK


def _config_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    errors = settings.validate()
    for e in errors:
        print(f"error: {e}")
    for w in settings.lint():
        print(f"warning: {w}")
    return EXIT_ERROR if errors else EXIT_OK


def _skip_unused_imports() -> None:
    """Keep out of a dockwatch process two modules that libraries import eagerly, only for
    features dockwatch never uses, and that cost start-up time on every run.

    `rfc3987_syntax`: jsonschema imports it when it is installed (the test extra brings it,
    through cyclonedx-python-lib[json-validation]) and it compiles its grammars at import:
    seconds of CPU. dockwatch never asks jsonschema to check string formats.

    `httpx._main`: the `httpx` command-line tool, which `import httpx` loads whenever click,
    rich and pygments are installed: ~37 ms of every `dockwatch sbom docker://...` (half of
    httpx's import). httpx falls back to a stub `main` when it cannot be imported.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _skip_unused_imports()
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from dockwatch.cli.start_pause import command_started
    from dockwatch.errors import DockwatchError

    try:
        if args.command not in STARTS_ITSELF:
            command_started()
        if args.command == "serve":
            return _serve(args)
        if args.command == "gc":
            return _gc(args)
        if args.command == "config":
            return _config_check(args)
        if args.command == "db":
            return _db(args)
        if args.command == "sbom":
            return _sbom(args)
        if args.command in ("backup", "restore", "fsck"):
            from dockwatch.cli.ops import run as run_ops

            return run_ops(args)
        if args.command == "worker":
            from dockwatch.cli.processes import run_worker

            return run_worker(args)
        if args.command == "migrate-store":
            from dockwatch.cli.migrate_store import run as run_migrate_store

            return run_migrate_store(args)
        if args.command == "migrate":
            from dockwatch.cli.processes import run_migrate

            return run_migrate(args)
        if args.command == "scan":
            from dockwatch.cli.scan import run as run_scan

            return run_scan(args)
        if args.command == "accounts":
            from dockwatch.cli.accounts import run as run_accounts

            return run_accounts(args)
    except DockwatchError as exc:
        print(f"dockwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    return EXIT_ERROR
