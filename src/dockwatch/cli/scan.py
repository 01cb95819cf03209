"""`dockwatch scan IMAGE`: catalogue an image, match it, print its findings, gate a pipeline.

The image is read as `dockwatch sbom` reads it (skopeo-style transports, `--creds`,
`--tls-verify=false`), matched against the vulnerability database of the data folder by the same
code the server's scans use (`match`, `findings.build`), and each finding is shaped as the API
shapes stored ones (`inspector_finding`, status ACTIVE, its id from the image reference), so
`--format json|csv|sarif|cyclonedx-json|asff` write what the API exports. Nothing is stored.

Exit status: 0 when no ACTIVE finding reaches `--fail-on` (or no `--fail-on`), 1 when one does,
2 on any error (one `dockwatch: error:` line on stderr). The output names the database version
and its age; a database older than 7 days gets a warning on stderr.

Test hook: `--now ISO-TIME` (hidden) sets the clock, honoured only when DOCKWATCH_TEST_MODE=1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwatch.cli.args import add_image_source_arguments

if TYPE_CHECKING:
    from dockwatch.app import Services
    from dockwatch.catalog.service import Inventory
    from dockwatch.reports.common import DatabaseInfo

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STALE_DAYS = 7
"""A database not refreshed for longer than this gets a warning."""
FORMAT_NAMES = ("table", "json", "sarif", "cyclonedx-json", "asff", "csv")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED")
MAX_WARNINGS = 20


def add_parser(sub: Any) -> None:
    """Register `scan` on the `dockwatch` subcommand parsers."""
    scan = sub.add_parser(
        "scan",
        help="scan an image for vulnerabilities with the local database",
        description="Catalogue IMAGE, match it against the vulnerability database of the data "
        "folder and print the findings. Exit status: 0 no finding reaches --fail-on, 1 one "
        "does, 2 error.",
    )
    scan.add_argument(
        "image",
        help="oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG] "
        "or dockwatch:REPO[:TAG|@DIGEST]",
    )
    scan.add_argument(
        "--format",
        default="table",
        metavar="FORMAT",
        help=f"output format: {', '.join(FORMAT_NAMES)} (default table)",
    )
    scan.add_argument(
        "--fail-on",
        default=None,
        metavar="SEVERITY",
        help=f"exit 1 when an active finding is this severe or worse ({', '.join(SEVERITIES)})",
    )
    scan.add_argument(
        "--ignore-unfixed", action="store_true", help="leave out packages with no fixed version"
    )
    scan.add_argument(
        "--ignore-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="ignore list (YAML/JSON {ignore: [{id, package, reason, expires}]}), OpenVEX or "
        "CycloneDX VEX; matching findings become SUPPRESSED",
    )
    scan.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data folder holding the vulnerability database (default: $DOCKWATCH_DATA, "
        "else ./var)",
    )
    add_image_source_arguments(scan)
    scan.add_argument("--output", "-o", type=Path, default=None, help="write to FILE, not stdout")
    scan.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    scan.add_argument("--now", default=None, help=argparse.SUPPRESS)  # tests only, see module doc


class ScanUsageError(ValueError):
    """A flag's value is unusable (reported as one error line, exit status 2)."""


def _fail_on(value: str | None) -> str | None:
    if value is None:
        return None
    upper = value.strip().upper()
    if upper not in SEVERITIES:
        raise ScanUsageError(
            f"--fail-on {value!r} is not a severity; expected one of {', '.join(SEVERITIES)}"
        )
    return upper


def parse_creds(value: str | None) -> tuple[str, str] | None:
    """`--creds USER:PASS` as (user, password), None when absent."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise ScanUsageError("--creds wants USER:PASS")
    return user, password


def _now(value: str | None, test_mode: bool) -> datetime | None:
    if value is None:
        return None
    if not test_mode:
        raise ScanUsageError("--now is a test hook, honoured only when DOCKWATCH_TEST_MODE=1")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScanUsageError(f"--now {value!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def database_info(status: dict[str, Any], now: datetime) -> DatabaseInfo:
    """The database's version and age from `VulnDb.status()`: its age counts from the last
    successful refresh of any vulnerability source (a sync that found nothing new still
    refreshes it), else from when the current version was built."""
    from dockwatch.reports.common import DatabaseInfo, parse_time

    refreshed = [
        t
        for s in status.get("sources", ())
        if s.get("kind", "vulnerability") != "enrichment"
        for t in [parse_time(s.get("lastSuccessAt") or s.get("updatedAt"))]
        if t is not None
    ]
    updated = max(refreshed) if refreshed else parse_time(status.get("builtAt"))
    age = None if updated is None else max(0, int((now - updated).total_seconds() // 86400))
    return DatabaseInfo(int(status.get("version") or 0), updated, age)


def image_index(services: Services, inventory: Inventory, now: datetime) -> Any:
    """A `MatchIndex` holding only the advisories of this image's package keys.

    The server's index loads every affected entry once and lives for days; a CLI run lives
    for one image, and loading the whole database (87,000 entries take about 4 s) would cost
    more than the scan. The keys are the ones `match` looks packages up under, so the verdicts
    are the same.
    """
    from dockwatch.distros import Supported, lookup_distro
    from dockwatch.match.service import MatchIndex, affected_keys

    os_ecosystem = None
    if inventory.distro is not None:
        support = lookup_distro(inventory.distro, today=now.date())
        if isinstance(support, Supported):
            os_ecosystem = support.release.ecosystem
    keys = affected_keys(inventory.packages, os_ecosystem)

    return MatchIndex(services.store, keys)


def scan_findings(
    services: Services,
    inventory: Inventory,
    reference: str,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[str]]:
    """ACTIVE Inspector-shaped findings for a catalogued image, plus warnings to show."""
    from dockwatch.findings.lifecycle import FindingStatus, finding_id
    from dockwatch.findings.shape import ImageContext, inspector_finding
    from dockwatch.model.identity import ImageResource
    from dockwatch.reports.common import image_name, image_tag
    from dockwatch.scan.pipeline import evaluate

    image = inventory.image
    assert image is not None
    warnings: list[str] = []
    index = image_index(services, inventory, now)
    evaluation = evaluate(
        inventory.packages, inventory.distro, index, services.store, today=now.date()
    )
    report, drafts = evaluation.report, evaluation.drafts
    if report.unsupported_os:
        warnings.append(f"OS packages were not matched: {report.unsupported_os}")
    if report.indeterminate:
        warnings.append(
            f"{len(report.indeterminate)} package/advisory pairs could not be decided "
            "(run with --log-level DEBUG for each reason)"
        )
        for u in report.indeterminate:
            logger.debug(
                "undecided: %s %s %s/%s: %s",
                u.package.name,
                u.package.version,
                u.source,
                u.advisory_id,
                u.reason,
            )
    tenant = services.tenant
    repository = image_name(reference)
    tag = image_tag(reference)
    platform = image.platform
    context = ImageContext(
        repository=repository,
        digest=str(image.manifest_digest),
        tags=(tag,) if tag else (),
        architecture=None if platform is None else platform.architecture,
        platform=None if platform is None else str(platform),
    )
    resource = ImageResource(tenant, repository, context.digest)
    findings = [
        inspector_finding(
            tenant,
            context,
            finding_id=finding_id(resource, vuln),
            status=FindingStatus.ACTIVE.value,
            severity=draft.severity,
            fix_available=draft.fix_available,
            first_observed_at=now,
            last_observed_at=now,
            updated_at=now,
            detail=draft.detail,
        )
        for vuln, draft in sorted(drafts.items())
    ]
    return findings, warnings


def reaches(findings: Sequence[dict[str, Any]], threshold: str | None) -> bool:
    """Does an ACTIVE finding have `threshold` severity or worse?"""
    if threshold is None:
        return False
    limit = SEVERITIES.index(threshold)
    return any(
        f.get("status") == "ACTIVE"
        and str(f.get("severity")).upper() in SEVERITIES
        and SEVERITIES.index(str(f.get("severity")).upper()) <= limit
        for f in findings
    )


def write_output(text: str, output: Path | None) -> bool:
    """Write a report to `output` (atomically) or stdout; False when stdout's reader has left
    (`dockwatch scan ... | head`), which is not an error."""
    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return False
        return True
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return True


def layer_progress(show: bool, started: float) -> Callable[[int, int, Any], None] | None:
    """A progress line on stderr for each layer catalogued (None when not `show`)."""
    if not show:
        return None

    def progress(number: int, total: int, digest: Any) -> None:
        print(
            f"\r\033[Kcataloguing layer {number + 1}/{total} {str(digest)[:19]} "
            f"({time.monotonic() - started:.1f} s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return progress


def _warn(message: str) -> None:
    print(f"dockwatch: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from dockwatch.app import build
    from dockwatch.catalog.service import catalog_image
    from dockwatch.clock import ControlledClock
    from dockwatch.config import from_env
    from dockwatch.registry.reader import StoredImageReader
    from dockwatch.reports.common import ExportContext, image_name
    from dockwatch.reports.findings import formats
    from dockwatch.reports.findings.filters import drop_unfixed, suppress
    from dockwatch.reports.findings.ignore import ImageIdentity, parse, read
    from dockwatch.vulndb.service import VulnDb

    started = time.monotonic()
    show = not args.quiet and sys.stderr.isatty()
    renderer = formats.lookup(args.format).renderer()  # an unknown format fails before any work
    threshold = _fail_on(args.fail_on)
    creds = parse_creds(args.creds)
    ignore_data = None
    if args.ignore_file is not None:  # a malformed file fails before the image is read
        ignore_data = read(args.ignore_file)
        parse(ignore_data, str(args.ignore_file), ImageIdentity(), datetime.now(UTC))
    settings = from_env(data_dir=args.data)
    fixed_now = _now(args.now, settings.test_mode)
    clock = None
    if fixed_now is not None:
        clock = ControlledClock()
        clock.set(fixed_now)
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if not settings.database_url and not settings.data_dir.is_dir():  # never create one here
        raise ScanUsageError(
            f"no vulnerability database: {settings.data_dir} does not exist; run "
            "`dockwatch db sync` or `dockwatch db import` first (or pass --data)"
        )
    services = build(settings, clock)
    try:
        now = services.clock.now()
        status = VulnDb(
            services.store, services.clock, services.tenant.account_id, services.tenant.region
        ).status()
        database = database_info(status, now)
        if database.version == 0:
            raise ScanUsageError(
                f"the vulnerability database in {settings.data_dir} is empty; run "
                "`dockwatch db sync` or `dockwatch db import` first (or pass --data)"
            )
        ctx_registry = services.registry.ctx
        try:
            inventory = catalog_image(
                args.image,
                args.platform,
                creds=creds,
                tls_verify=args.tls_verify != "false",
                progress=layer_progress(show, started),
                local_store=lambda repo: StoredImageReader(ctx_registry, repo),
            )
        finally:
            if show:
                print("\r\033[K", end="", file=sys.stderr, flush=True)
        findings, warnings = scan_findings(services, inventory, args.image, now)
    finally:
        services.close()
    image = inventory.image
    assert image is not None
    if args.ignore_unfixed:
        findings = drop_unfixed(findings)
    if ignore_data is not None:
        ignores = parse(
            ignore_data,
            str(args.ignore_file),
            ImageIdentity(str(image.manifest_digest), image_name(args.image)),
            now,
        )
        warnings.extend(ignores.warnings)
        findings = suppress(findings, ignores.rules)
    distro = inventory.distro
    ctx = ExportContext(
        image_reference=args.image,
        image_digest=str(image.manifest_digest),
        image_name=image_name(args.image),
        platform=None if image.platform is None else str(image.platform),
        os=None if distro is None else " ".join(x for x in (distro.id, distro.version_id) if x),
        database=database,
        generated_at=now,
        width=_table_width(args.output),
        color=_color(args.output),
        incomplete=tuple(i.describe() for i in inventory.incomplete),
    )
    write_output(renderer(findings, ctx), args.output)
    all_warnings = [*inventory.warnings, *warnings]
    for w in all_warnings[:MAX_WARNINGS]:
        _warn(w)
    if len(all_warnings) > MAX_WARNINGS:
        _warn(f"and {len(all_warnings) - MAX_WARNINGS} more")
    if database.age_days is not None and database.age_days > STALE_DAYS:
        _warn(
            f"the vulnerability database is {database.age_days} days old ({database.describe()}); "
            "run `dockwatch db sync` to refresh it"
        )
    if show:
        print(
            f"{len(findings)} findings, {len(inventory.packages)} packages, database "
            f"{database.describe()}, {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
    if inventory.incomplete:
        _warn("the scan is incomplete: a layer read was cut short (see above); exit status 2")
        return EXIT_ERROR
    return EXIT_FINDINGS if reaches(findings, threshold) else EXIT_OK


def _table_width(output: Path | None) -> int | None:
    if output is None and sys.stdout.isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return None


def _color(output: Path | None) -> bool:
    return output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def run(args: argparse.Namespace) -> int:
    """Run `dockwatch scan`; every failure is one line and exit status 2."""
    from dockwatch.errors import DockwatchError

    try:
        return _run(args)
    except (DockwatchError, OSError, ValueError) as exc:
        print(f"dockwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # the CLI boundary: a bug is reported in one line, never a traceback
        logger.debug("scan failed", exc_info=True)
        print(f"dockwatch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
