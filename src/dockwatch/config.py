"""The typed settings tree: defaults, then `DOCKWATCH_*` environment variables, then CLI flags.

Each field carries its default and its help (the `help` metadata), so the CLI, the docs and
`config check` are all generated from here.
"""

from __future__ import annotations

import os
from dataclasses import field, fields, replace
from pathlib import Path
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.value_class import frozen

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@frozen
class Settings:
    """Everything the composition root needs to build a dockwatch for one data folder."""

    data_dir: Path = _f(Path("var"), "Folder holding the SQLite database and blobs.")
    host: str = _f("127.0.0.1", "Address the server listens on.")
    port: int = _f(5000, "Port the server listens on.")
    database_url: str | None = _f(
        None,
        "SQLAlchemy URL; default SQLite in the data folder; PostgreSQL as "
        "postgresql+psycopg://user:pass@host/db.",
    )
    account_id: str = _f(DEFAULT_ACCOUNT, "The account id every resource belongs to (12 digits).")
    region: str = _f(DEFAULT_REGION, "The region name resources are reported in.")
    regions: str = _f(
        "",
        "Comma-separated regions the AWS APIs serve (DOCKWATCH_REGIONS); `region` is always one; "
        "a request signed for another region is refused.",
    )
    username: str | None = _f(None, "Registry user (DOCKWATCH_USERNAME); generated if unset.")
    password: str | None = _f(None, "Registry password (DOCKWATCH_PASSWORD); generated if unset.")
    auth: bool = _f(True, "Require credentials on /v2/ and /api/ (--no-auth turns this off).")
    tls_cert: Path | None = _f(None, "PEM certificate for HTTPS.")
    tls_key: Path | None = _f(None, "PEM private key for HTTPS.")
    test_mode: bool = _f(False, "Allow tests to move the server clock (never in production).")
    max_manifest_bytes: int = _f(4 * 1024 * 1024, "Largest manifest accepted on push.")
    upload_expiry_seconds: int = _f(86400, "Uploads idle this long are removed by gc.")
    pull_record_seconds: int = _f(60, "Pulls of one image update lastPulledAt at most this often.")
    workers: int = _f(1, "Server worker processes (1 with SQLite).")
    scan_max_image_bytes: int = _f(
        20 * 1024**3,
        "Images whose compressed layers add up to more are not scanned (IMAGE_SIZE_EXCEEDED).",
    )
    auth_cache_seconds: int = _f(
        60, "A verified password is remembered this long (0: verify scrypt on every request)."
    )
    auth_free_failures_per_address: int = _f(
        5, "Failed authentications from one client address before it must wait (429)."
    )
    auth_free_failures_per_user: int = _f(
        20, "Failed authentications for one user name, from any address, before it must wait."
    )
    auth_backoff_max_seconds: int = _f(
        300, "Longest wait after failed authentications (the wait doubles with each failure)."
    )
    auth_failure_half_life_seconds: int = _f(
        300, "Failed authentications count half after this long without another failure."
    )
    auth_max_concurrent_verifications: int = _f(
        2, "Password verifications (scrypt, 16 MiB each) running at once."
    )
    auth_max_waiting_verifications: int = _f(
        32, "Verifications waiting for a slot; beyond that, or after the wait, 503."
    )
    auth_verification_wait_seconds: int = _f(
        5, "Longest wait for a verification slot before the answer is 503 with Retry-After."
    )
    max_request_body_bytes: int = _f(
        1024 * 1024, "Largest JSON request body of /api/v1 (413 beyond)."
    )
    max_json_depth: int = _f(64, "Deepest nesting of arrays and objects in a JSON request (400).")

    webhook_allow: str = _f(
        "",
        "Internal webhook receivers allowed despite the SSRF guard: comma-separated CIDRs or "
        "host names (DOCKWATCH_WEBHOOK_ALLOW).",
    )
    webhook_secret_key: str | None = _f(
        None,
        "Base64 of 32 bytes sealing webhook secrets at rest; default: a key file created in "
        "the data folder (mode 0600).",
    )
    sync_interval: int = _f(
        3600,
        "Seconds between scheduled feed syncs in `serve` (0 turns them off: import bundles instead).",
    )
    feeds: str | None = _f(
        None, "Comma-separated feed names `serve` syncs (DOCKWATCH_FEEDS); default every built-in."
    )
    feed_urls: str | None = _f(
        None, "Feed mirrors as name=url,name=url (DOCKWATCH_FEED_URLS), for `serve` and `db sync`."
    )
    feed_stale_hours: int = _f(
        48, "A feed whose last successful sync is older is reported stale (status, health, metric)."
    )
    scan_max_uncompressed_bytes: int = _f(
        64 * 1024**3,
        "Uncompressed bytes read from one layer before its scan stops (SCAN_INCOMPLETE).",
    )
    scan_layer_seconds: int = _f(
        900, "Seconds one layer may take to read before its scan stops (SCAN_INCOMPLETE)."
    )
    pull_refused_event_seconds: int = _f(
        60, "A refused pull of one image writes a PullRefused event at most this often."
    )
    registry_bearer_challenges: bool = _f(
        False,
        "Answer unauthenticated /v2 requests with the OCI token challenge (Bearer realm="
        "<server>/v2/token) instead of Basic's; Basic credentials are accepted either way.",
    )

    audit_retention_days: int = _f(
        365, "Audit log entries older than this many days are deleted (hourly pass)."
    )
    events_retention_days: int = _f(
        90,
        "Outbox events older than this many days (at least 30: ListUsageTotals counts the "
        "last 30 days of scans from them) are deleted once every subscriber has read them and "
        "no webhook delivery waits on them (hourly pass).",
    )
    job_lease_seconds: int = _f(
        300,
        "How long a worker's claim on a job holds without a heartbeat (renewed every third of "
        "it); on PostgreSQL a job whose lease ran out is claimed again by another worker.",
    )
    delta_shards: int = _f(
        1,
        "Jobs an advisory update's rescan is split into, each re-evaluating the images of its "
        "share of the buckets; with PostgreSQL and several workers they run side by side "
        "(1 to 512).",
    )
    audit_trusted_proxies: str = _f(
        "",
        "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client in the "
        "audit log (DOCKWATCH_AUDIT_TRUSTED_PROXIES); empty: the TCP peer is the source.",
    )

    blob_url: str | None = _f(
        None,
        "s3://bucket/prefix: blobs in an S3-compatible store (credentials, region and endpoint "
        "from the standard AWS_* variables, e.g. AWS_ENDPOINT_URL_S3); default: the data folder.",
    )
    blob_redirect: str = _f(
        "proxy",
        "Blob pulls from S3: `proxy` streams them through the API, `presigned` answers 307 to a "
        "presigned GET URL of the store (DOCKWATCH_BLOB_REDIRECT).",
    )
    blob_redirect_seconds: int = _f(1200, "Lifetime of a presigned blob URL, in seconds.")
    s3_addressing_style: str = _f(
        "auto", "S3 bucket addressing: auto, path (MinIO, Ceph) or virtual (host-style)."
    )
    migrate_at_start: bool = _f(
        True, "`serve` and `worker` migrate the database at start (false: run `dockwatch migrate`)."
    )
    organization_management_account: str | None = _f(
        None,
        "The account that is Inspector's organization management account (12 digits; "
        "DOCKWATCH_ORGANIZATION_MANAGEMENT_ACCOUNT); default: account_id.",
    )
    reports_dir: Path | None = _f(
        None,
        "Folder Inspector findings reports and SBOM exports are written to, one subfolder per "
        "bucket name (DOCKWATCH_REPORTS_DIR); default: `reports` in the data folder.",
    )

    def validate(self) -> list[str]:
        """Errors that make these settings unusable."""
        errors: list[str] = []
        if not (self.account_id.isdigit() and len(self.account_id) == 12):
            errors.append(f"account_id must be 12 digits, got {self.account_id!r}")
        management = self.organization_management_account
        if management is not None and not (management.isdigit() and len(management) == 12):
            errors.append(f"organization_management_account must be 12 digits, got {management!r}")
        if not 0 < self.port < 65536:
            errors.append(f"port out of range: {self.port}")
        if (self.tls_cert is None) != (self.tls_key is None):
            errors.append("tls_cert and tls_key go together")
        if self.max_manifest_bytes <= 0:
            errors.append("max_manifest_bytes must be positive")
        if self.sync_interval < 0:
            errors.append("sync_interval must be 0 (off) or a number of seconds")
        if self.feed_stale_hours <= 0:
            errors.append("feed_stale_hours must be positive")
        positive = (
            "auth_free_failures_per_address",
            "auth_free_failures_per_user",
            "auth_backoff_max_seconds",
            "auth_failure_half_life_seconds",
            "auth_max_concurrent_verifications",
            "auth_verification_wait_seconds",
            "max_request_body_bytes",
            "max_json_depth",
            "audit_retention_days",
            "job_lease_seconds",
        )
        errors.extend(f"{n} must be positive" for n in positive if getattr(self, n) <= 0)
        if not 1 <= self.delta_shards <= 512:
            errors.append(f"delta_shards must be from 1 to 512, got {self.delta_shards}")
        if self.events_retention_days < 30:
            errors.append("events_retention_days must be at least 30 (ListUsageTotals' window)")
        errors.extend(_cidr_errors("audit_trusted_proxies", self.audit_trusted_proxies))
        if self.blob_url and not self.blob_url.startswith("s3://"):
            errors.append(f"blob_url must look like s3://bucket/prefix, got {self.blob_url!r}")
        if self.blob_redirect not in ("proxy", "presigned"):
            errors.append(f"blob_redirect must be proxy or presigned, got {self.blob_redirect!r}")
        if self.blob_redirect_seconds <= 0:
            errors.append("blob_redirect_seconds must be positive")
        if self.s3_addressing_style not in ("auto", "path", "virtual"):
            errors.append("s3_addressing_style must be auto, path or virtual")
        not_negative = (
            "auth_cache_seconds",
            "auth_max_waiting_verifications",
            "pull_refused_event_seconds",
        )
        errors.extend(f"{n} must not be negative" for n in not_negative if getattr(self, n) < 0)
        return errors

    def lint(self) -> list[str]:
        """Warnings: settings that work but are probably not what was meant."""
        warnings: list[str] = []
        if not self.auth:
            warnings.append("authentication is OFF: anyone who can reach the port can push")
        if self.test_mode:
            warnings.append("test mode is ON: the server clock can be moved over HTTP")
        if self.host not in ("127.0.0.1", "localhost", "::1") and self.tls_cert is None:
            warnings.append("listening beyond loopback without TLS: credentials travel in clear")
        return warnings

    @property
    def served_regions(self) -> tuple[str, ...]:
        """`region` and every region `regions` names, without repeats, in that order."""
        listed = [r.strip() for r in self.regions.split(",") if r.strip()]
        return tuple(dict.fromkeys([self.region, *listed]))

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'dockwatch.db'}"

    @property
    def management_account_id(self) -> str:
        """Inspector's organization management account: the configured one, else account_id."""
        return self.organization_management_account or self.account_id

    @property
    def effective_reports_dir(self) -> Path:
        """Where findings reports and SBOM exports are written."""
        return self.reports_dir or self.data_dir / "reports"


def _cidr_errors(name: str, text: str) -> list[str]:
    """One error per item of a comma-separated list that is not an address or CIDR."""
    import ipaddress

    errors: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                errors.append(f"{name}: not an address or CIDR: {item!r}")
    return errors


def _cast(value: str, annotation: str) -> Any:
    if "bool" in annotation:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"not a boolean: {value!r}")
    if "int" in annotation:
        return int(value)
    if "Path" in annotation:
        return Path(value)
    return value


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `DOCKWATCH_<FIELD>` environment variables, then explicit overrides.

    Overrides that are None are ignored, so CLI flags left unset keep the environment's value.
    """
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"DOCKWATCH_{f.name.upper()}")
        if f.name == "data_dir" and raw is None:
            raw = env.get("DOCKWATCH_DATA")
        if raw is not None:
            try:
                values[f.name] = _cast(raw, str(f.type))
            except ValueError as exc:
                raise InvalidInput(f"DOCKWATCH_{f.name.upper()}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)
