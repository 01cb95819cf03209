"""Tables of findings: content-addressed details, findings, suppression rules, rollups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata, tenant_columns
from dockwatch.storage.sql.schema.ddl import PARTIAL, WITHOUT_ROWID, VirtualOnSqlite
from dockwatch.storage.sql.schema.detail_document import DETAIL_DOCUMENT
from dockwatch.storage.sql.schema.epoch_micros import EPOCH_MICROS_TIMESTAMP
from dockwatch.storage.sql.schema.registry import tags

finding_details = Table(
    "finding_details",
    metadata,
    Column("ref", String(32), primary_key=True),
    # compressed on SQLite (`schema/detail_document.py`, since migration findings/8)
    Column("doc", DETAIL_DOCUMENT, nullable=False),
    Column("title", Text),
    # the fields filters compare that only the document holds, as columns (since findings/8):
    # a filter reads them without the document (`storage/sql/detail_columns.py`)
    Column("vendor_severity", Text),
    Column("related_vulnerabilities", Text),  # a JSON array of strings; NULL when none
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    # covering (ref, title): a TITLE aggregation summing the detail rollup looks up each
    # detail's title here without reading its row (~1.5 KB until findings/8 compressed it;
    # 1,000,000 findings, fixAvailable=YES: 270 -> 95 ms of CPU for 63,664 details)
    Index("ix_finding_details_title", "ref", "title"),
    # a vendorSeverity filter finds its details here instead of reading every detail's row
    # (since findings/10; 146,300 details: 1.3 MB, 20 ms of CPU less a query)
    Index("ix_finding_details_vendor_severity", "vendor_severity"),
)
"""A finding's content (title, scores, vulnerable packages, evidence) by content hash: the same
vulnerability in the same packages of the same layers reads the same in every image, so 50,000
images gaining one finding write one detail row, not 50,000."""


detail_packages = Table(
    "detail_packages",
    metadata,
    Column("detail_ref", String(32), ForeignKey("finding_details.ref"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("pkg_ref", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("version", String(256), nullable=False),
    Column("package_manager", String(32), nullable=False),
    Column("source_layer_hash", String(140)),
    Column("fixed_in_version", String(256)),
    Column("file_path", Text),
    Column("release", Text),  # package filters' release, architecture and epoch (findings/8)
    Column("arch", Text),
    Column("epoch", Integer),
    PrimaryKeyConstraint("detail_ref", "seq"),
    Index("ix_detail_packages_pkg", "pkg_ref"),
    Index("ix_detail_packages_name", "name"),
    Index("ix_detail_packages_layer", "source_layer_hash"),
    # covering (detail, name, seq): a PACKAGE aggregation summing the detail rollup joins each
    # detail to its package names, and its "first row of each name" check seeks (detail, name),
    # both without reading the table (1,000,000 findings, fixAvailable=YES: 250 -> 100 ms CPU)
    Index("ix_detail_packages_detail_name", "detail_ref", "name", "seq"),
)
"""The vulnerable packages of a finding detail, as rows: package filters and aggregations by
package and layer query these, and a re-match finds the findings a package is part of."""


SEVERITY_RANK_SQL = (
    "CASE severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 "
    "WHEN 'LOW' THEN 2 WHEN 'INFORMATIONAL' THEN 1 ELSE 0 END"
)
"""Severity as a number (UNTRIAGED lowest) for sorting findings by severity."""


KEYED_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2",
    "ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-gov-east-1", "us-gov-west-1",
    "cn-north-1", "cn-northwest-1",
)  # fmt: skip
"""The regions with a code of their own in `tenant_key` (1 + the position: never reorder,
append; at most 63). Any other region has code 0."""
assert len(KEYED_REGIONS) < 64 and len(set(KEYED_REGIONS)) == len(KEYED_REGIONS)

TENANT_KEY_SQL = (
    "CASE WHEN length(account_id) = 12 AND ltrim(account_id, '0123456789') = '' "
    "THEN CAST(account_id AS BIGINT) ELSE 0 END * 64 + CASE region "
    + " ".join(f"WHEN '{r}' THEN {n}" for n, r in enumerate(KEYED_REGIONS, 1))
    + " ELSE 0 END"
)
"""A tenant as one integer computed from its account and region: the key findings' sort
indexes led with from migration listing/4 to findings/11, kept for those migrations. About 6
bytes in each index entry for a real account id (none for the default account's key, 1), and
two tenants could share it; `finding_tenants` replaced it with dense keys."""


STATUS_CODES = {"ACTIVE": 0, "SUPPRESSED": 1, "CLOSED": 2}
STATUS_CODE_SQL = (
    "CASE status " + " ".join(f"WHEN '{s}' THEN {n}" for s, n in STATUS_CODES.items()) + " END"
)
"""A finding's status as a small integer for `ix_findings_detail_image`: SQLite keeps 0 and 1
in the record header alone, where 'ACTIVE' takes 7 bytes an entry."""

IMAGE_KEY_START, IMAGE_KEY_LENGTH = 8, 12
IMAGE_KEY_SQL = f"substr(digest, {IMAGE_KEY_START}, {IMAGE_KEY_LENGTH})"
"""The first 12 hex digits of an image's digest (after `sha256:`): 13 bytes in an index entry
where the digest takes 72. Two images of a repository share it about once in 2^48 pairs, never
silently: a query that groups by it first checks that no two of the tenant's images do
(`finding_queries/aggregation_images.py`)."""


def image_key(digest: str) -> str:
    """`IMAGE_KEY_SQL` of a digest, computed here (tests compare it with the database's)."""
    return digest[IMAGE_KEY_START - 1 : IMAGE_KEY_START - 1 + IMAGE_KEY_LENGTH]


def tenant_key(tenant: Tenant) -> int:
    """`TENANT_KEY_SQL` of the tenant, computed here (tests of listing/4 compare it with the
    database's)."""
    account = tenant.account_id
    number = int(account) if len(account) == 12 and account.isascii() and account.isdigit() else 0
    code = KEYED_REGIONS.index(tenant.region) + 1 if tenant.region in KEYED_REGIONS else 0
    return number * 64 + code


finding_tenants = Table(
    "finding_tenants",
    metadata,
    Column("tenant_key", Integer, primary_key=True, autoincrement=True),
    *tenant_columns(),
    UniqueConstraint("account_id", "region", name="uq_finding_tenants"),
)
"""Every tenant that has stored findings, numbered in the order they first did (1, 2, ...;
since migration findings/11, which numbered those it found by their number of findings): `findings.tenant_key`, which leads every finding sort index, is
this number. A key below 128 takes 1 byte in an SQLite index entry (and 1 none: SQLite keeps 0
and 1 in the record header), whatever the account id; the arithmetic key it replaced
(`TENANT_KEY_SQL`) took 6 for a real 12-digit account id. The primary key and the unique
(account, region) make the numbering one-to-one: two tenants never share a key. Rows are added
by `storage/sql/finding_tenants.py` (INSERT ... ON CONFLICT DO NOTHING, race-free between
processes) and never change or go."""


FINDING_SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")
"""INTEGER on SQLite, so `seq` is the rowid; BIGSERIAL (a sequence) on PostgreSQL."""

findings = Table(
    "findings",
    metadata,
    # the order a finding was stored in: the tie-break of every sort index (new findings append
    # at the end of their key's run instead of landing on a random page) and the keyset of
    # listings; the finding id users see stays `id`, its content hash
    Column("seq", FINDING_SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False),
    *tenant_columns(),
    Column("repository_id", Integer, ForeignKey("repositories.id"), nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("digest", String(140), nullable=False),
    Column("vulnerability_id", String(128), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False, server_default="NO"),
    Column("inspector_score", Float),
    Column("epss_score", Float),
    Column("source", String(64), nullable=False, server_default=""),
    # integers on SQLite (`schema/epoch_micros.py`, since migration listing/5): 8 bytes where
    # the text took 27, in the row and in the two time sort indexes
    Column("first_observed_at", EPOCH_MICROS_TIMESTAMP, nullable=False),
    Column("last_observed_at", EPOCH_MICROS_TIMESTAMP, nullable=False),
    Column("updated_at", EPOCH_MICROS_TIMESTAMP, nullable=False),
    Column("closed_at", EPOCH_MICROS_TIMESTAMP),
    Column("detail_ref", String(32), ForeignKey("finding_details.ref"), nullable=False),
    Column("suppressed_by", String(64)),
    # the tenant's dense key (`finding_tenants`), which leads every sort index: written with
    # the row by every writer (since migration findings/11; computed from the account and
    # region by the database before, `TENANT_KEY_SQL`)
    Column("tenant_key", BigInteger, nullable=False),
    # sort keys for keyset listings (findings/listing.py), computed by the database: VIRTUAL
    # on SQLite (no bytes in the table: its indexes keep the values; since migration
    # listing/4, STORED before: 20 bytes a finding), STORED on PostgreSQL (which indexes no
    # other kind)
    Column("severity_rank", Integer, VirtualOnSqlite(SEVERITY_RANK_SQL, persisted=True)),
    Column("score_key", Float, VirtualOnSqlite("coalesce(inspector_score, -1.0)", persisted=True)),
    Column("epss_key", Float, VirtualOnSqlite("coalesce(epss_score, -1.0)", persisted=True)),
    # the image within its repository in 12 characters and the status as a number, for
    # `ix_findings_detail_image` (since migration findings/10); the image key is exact only
    # where no two images of a repository share it (`IMAGE_KEY_SQL`)
    Column("image_key", String(12), VirtualOnSqlite(IMAGE_KEY_SQL, persisted=True)),
    Column("status_code", Integer, VirtualOnSqlite(STATUS_CODE_SQL, persisted=True)),
    Index("ix_findings_id", "id", unique=True),
    Index("ix_findings_image", "repository_id", "image_key", "vulnerability_id"),
    Index(
        "ix_findings_detail_image",
        "detail_ref",
        "status_code",
        "repository_id",
        "image_key",
        "severity_rank",
    ),
)
"""Indexes, each for the queries named beside it; measured at 1,000,000 findings (SQLite, bytes
per finding, `bench/findings.py`, since migration listing/5): the table itself 293 (`seq` is the
rowid: no bytes; the computed columns VIRTUAL: no bytes, 377 while they were STORED; the times
integers on SQLite, 345 while they were text),
`ix_findings_id` 46 (the finding id, unique: the primary key until migration listing/3),
`ix_findings_image` 39 (an image's findings: scans, DescribeImages' counts, closing a deleted
image's findings; `ecrImageHash` and `ecrImageRepositoryName` filters reach it through the
repository ids and image keys; led by the 72-character digest instead of its 12-character image
key until migration findings/14: 125; a query naming an image names its key and its digest, so
two images sharing a key cost a few more rows read, never a wrong answer), `ix_findings_detail_image`
60 (rescans by detail; package filters; and, covering, the image-grain aggregations filtered by
the detail document: `finding_queries/aggregation_images.py`; `ix_findings_detail`, on the
detail ref alone, took 48 until migration findings/10); each keyset sort index below, (tenant_key, key), 12-32 (13-32
with a tenant key of 2 to 127, a byte an entry, since findings/11; about 6 bytes more each for a
real account id with listing/4's computed key; the two time indexes 20-21,
40-41 while the times were text; a page of an order without
its index costs about 0.5 s: a scan and a sort; led by the account and region strings until
listing/4: 37-66, 243 bytes more for the ten), the partial `ix_findings_suppressed_rule` under
1. Until listing/3 each sort index ended with the 32-character id instead of `seq` (75-105
bytes, 1,111 -> 1,490 for the table and its indexes together), and a new finding landed on a
random page of each. Dropped by migration findings/14: `ix_findings_vuln` (26: rescans by
vulnerability across tenants seek `ix_findings_sort_vulnerability` once per tenant key
instead). Dropped by migration listing/2: `ix_findings_digest` (121: the image index
serves digests), `ix_findings_repository_severity` (96: a repository's 2,000 findings come
through the image index and sort in 3 ms more CPU) and the old `ix_findings_status` (50:
replaced by `ix_findings_status_rank`)."""


# --- finding listings (findings/listing.py): one index per sort key, (tenant_key, key, seq),
# so a keyset page seeks to its first row and reads one page. On SQLite `seq` is the rowid, which
# every index entry already ends with: naming it again would store it twice (4 bytes an entry,
# measured on 300,000 rows), so SQLite's indexes stop at the key and PostgreSQL's name `seq`.


def _sort_index(name: str, *columns: Any, **kw: Any) -> tuple[Index, Index]:
    """The index `name` on (tenant key, *columns, seq): SQLite's and PostgreSQL's spelling."""
    tenant = findings.c.tenant_key
    return (
        Index(name, tenant, *columns, **kw).ddl_if(dialect="sqlite"),
        Index(name, tenant, *columns, findings.c.seq, **kw).ddl_if(dialect="postgresql"),
    )


FINDING_SORT_INDEXES = (
    *_sort_index("ix_findings_sort_severity", findings.c.severity_rank),
    *_sort_index("ix_findings_sort_first", findings.c.first_observed_at),
    *_sort_index("ix_findings_sort_last", findings.c.last_observed_at),
    # no listing sorts by it: `updatedAt` filters seek it (a range's findings, or those it
    # drops, `finding_queries/aggregation_complement.py`; since migration findings/16: 19 bytes
    # a finding at 1,000,000, and an aggregation so filtered read every finding before)
    *_sort_index("ix_findings_sort_updated", findings.c.updated_at),
    *_sort_index("ix_findings_sort_status", findings.c.status),
    # a status filter in the default (severity) order seeks here instead of walking the
    # severity index past other statuses (SUPPRESSED is 2% of findings); purges and aggregations
    # of one status read it too
    *_sort_index("ix_findings_status_rank", findings.c.status, findings.c.severity_rank),
    *_sort_index("ix_findings_sort_repository", findings.c.repository_name),
    *_sort_index("ix_findings_sort_vulnerability", findings.c.vulnerability_id),
    *_sort_index("ix_findings_sort_source", findings.c.source),
    *_sort_index("ix_findings_sort_score", findings.c.score_key),
    *_sort_index("ix_findings_sort_epss", findings.c.epss_key),
    # only suppressed findings name a rule: partial, a fiftieth of the full index's size
    Index("ix_findings_suppressed_rule", findings.c.account_id, findings.c.region,
          findings.c.suppressed_by, info={PARTIAL: findings.c.suppressed_by.is_not(None)}),
    Index("ix_tags_name", tags.c.name),  # `ecrImageTags` filters look tags up by name
)  # fmt: skip
"""Both spellings of each sort index share its name; `Index.create(conn, checkfirst=True)`
and `create_all` make the one of the connection's dialect."""


suppression_rules = Table(
    "suppression_rules",
    metadata,
    Column("id", String(32), primary_key=True),
    *tenant_columns(),
    Column("arn", String(256), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("reason", Text),
    Column("action", String(16), nullable=False),
    Column("criteria", Text, nullable=False),
    Column("tags", Text, nullable=False, server_default="{}"),
    Column("expires_at", UTC_TIMESTAMP),
    Column("expired_at", UTC_TIMESTAMP),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Column("updated_at", UTC_TIMESTAMP, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_suppression_rules_name"),
    Index("ix_suppression_rules_tenant", "account_id", "region", "created_at"),
)
"""Inspector filters (findings/suppression.py): SUPPRESS rules suppress the findings their
criteria match until deleted or `expires_at`; NONE rules are saved filters. `expired_at` marks
a rule whose expiry has been applied to the findings."""


ROLLUP_SEVERITIES = ("critical", "high", "medium", "low", "informational", "untriaged")
"""The count column of each severity in every rollup table."""


ROLLUP_FILLFACTOR = 70
"""PostgreSQL fills a rollup table's pages to 70% (since findings/18), leaving room for the new
version of a row its counts change on the row's own page: no index entry is then written for
it (a heap-only update). A rescan's batch changes one rollup row or more per image: at 20,000
images, 156,482 rows upserted by the writer in 2.96-3.90 s with the pages full, 1.90-2.66 s
with the room (three runs each, alternately, both tables freshly rewritten;
`bench/scanning.py --part rescan --data` on PostgreSQL, sampled)."""


def _rollup(name: str, *columns: Column[Any], key: tuple[str, ...]) -> Table:
    """A rollup table: counts by severity per (tenant, status, *key). WITHOUT ROWID on SQLite
    (since findings/5 and /9): the primary key is the whole key, so one b-tree holds the rows
    instead of a table and its key's index (at 1,000,000 findings the layer rollup took 11.4 MB
    and its key 11.3). On PostgreSQL its pages keep room for updates (`ROLLUP_FILLFACTOR`)."""
    table = Table(
        name,
        metadata,
        *tenant_columns(),
        Column("status", String(16), nullable=False),
        *columns,
        *[Column(s, Integer, nullable=False) for s in ROLLUP_SEVERITIES],
        PrimaryKeyConstraint("account_id", "region", "status", *key),
        info={WITHOUT_ROWID: True},
    )
    event.listen(table, "after_create", _keep_room)
    return table


def _keep_room(table: Table, conn: Connection, **_: Any) -> None:
    """`ROLLUP_FILLFACTOR` set on a rollup table PostgreSQL has just made. Set here rather than
    as the table's `postgresql_with` option: a dialect's option loads that dialect's package at
    import, which a server on SQLite never needs."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {table.name} SET (fillfactor = {ROLLUP_FILLFACTOR})")


finding_image_counts = _rollup(
    "finding_image_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("fix_yes", Integer, nullable=False),
    Column("fix_partial", Integer, nullable=False),
    Column("exploit_yes", Integer, nullable=False),
    key=("repository_id", "digest"),
)


finding_layer_counts = _rollup(
    "finding_layer_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("layer_hash", String(140), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False),
    Column("repository_name", String(256), nullable=False),
    key=("repository_id", "digest", "layer_hash", "fix_available", "exploit_available"),
)
"""Findings per image layer, status, fix and exploit availability (a finding counts once per
distinct layer of its vulnerable packages). IMAGE_LAYER aggregations sum the rows of each
(image, layer), a prefix of the key, so they still group in key order; filtered on fix or
exploit availability (and images) they sum the rows meeting the filter instead of reading every
chosen finding (since findings/12; at 1,000,000 findings 1.5 s -> 0.07-0.10 s of CPU for
fixAvailable=YES, the unfiltered 64 -> 90 ms). Keyed so rather than beside a second table: a
finding write still upserts one row per distinct layer, and the table holds 108,657 rows, 26.9
MB (52,397, 12.6 MB keyed by the layer alone; a separate table would have added its 26.9)."""


finding_package_counts = _rollup(
    "finding_package_counts",
    Column("package_name", String(512), nullable=False),
    key=("package_name",),
)


finding_title_counts = _rollup(
    "finding_title_counts",
    Column("vulnerability_id", String(128), nullable=False),
    Column("title", Text, nullable=False),
    key=("vulnerability_id", "title"),
)


finding_detail_counts = _rollup(
    "finding_detail_counts",
    Column("detail_ref", String(32), nullable=False),
    Column("vulnerability_id", String(128), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False),
    Column("source", String(64), nullable=False),
    Column("score_key", Float, nullable=False),
    Column("epss_key", Float, nullable=False),
    Column("inspector_score", Float),
    Column("epss_score", Float),
    Column("title", Text),
    Column("package_names", Text),
    key=("detail_ref", "vulnerability_id", "fix_available", "exploit_available", "source",
         "score_key", "epss_key"),
)  # fmt: skip
"""Findings per (status, detail and every other column a detail-level filter reads): one row per
detail in practice (the other columns follow from it), whatever the number of images sharing it.
The scores are keyed by `coalesce(score, -1)` (NULL keys never conflict) and kept as they are
beside it for the filters; no score is negative. WITHOUT ROWID on SQLite (as the image fix
rollup): the primary key is the whole row's key, so one b-tree holds it instead of a table and
an index (35 -> 19 MB at 1,000,000 findings) and a scan reads no table row beside the key.

`title` (the detail's, NULL when it has none) and `package_names` (a JSON array of its distinct
package names) are functions of `detail_ref`, written with the row and never changed (details
are content-addressed): PACKAGE and TITLE aggregations group the rows by them instead of
joining every row with `detail_packages` or `finding_details` (docs/findings.md)."""


finding_image_fix_counts = _rollup(
    "finding_image_fix_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("fix_available", String(8), nullable=False),
    Column("exploit_available", String(8), nullable=False),
    Column("repository_name", String(256), nullable=False),
    key=("repository_id", "digest", "fix_available", "exploit_available"),
)
"""Findings per image, status, fix and exploit availability: REPOSITORY and AWS_ECR_CONTAINER
aggregations filtered on fix or exploit availability (and images) sum it, a few rows per
image, instead of reading every finding."""


finding_image_score_counts = _rollup(
    "finding_image_score_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    Column("score_key", Float, nullable=False),
    Column("inspector_score", Float),
    Column("repository_name", String(256), nullable=False),
    key=("repository_id", "digest", "score_key"),
)
"""Findings per image, status and Inspector score (keyed by `coalesce(score, -1)`, as the
detail rollup; the score kept beside it for the filters): REPOSITORY and AWS_ECR_CONTAINER
aggregations filtered by `inspectorScore` ranges (and images) sum the rows in range instead of
reading every finding of the chosen details. Scores have one decimal (CVSS), so an image has at
most 101 rows per status, in practice one per distinct score of its findings: 44,734 rows at
1,000,000 findings (`bench/findings.py`), where a key of the fix rollup widened by the score
would have multiplied that table's rows, and the reads of fix filters with them. A separate
table was kept rather than a key widened by fix availability too (docs/findings.md)."""


FIRST_SECOND = 1_000_000
"""The bucket of `finding_image_first_counts` in microseconds: the whole second."""

finding_image_first_counts = _rollup(
    "finding_image_first_counts",
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(140), nullable=False),
    # the whole second a finding was first observed in (its `first_observed_at` truncated)
    Column("first_observed_second", EPOCH_MICROS_TIMESTAMP, nullable=False),
    Column("repository_name", String(256), nullable=False),
    Column("fix_yes", Integer, nullable=False),
    Column("fix_partial", Integer, nullable=False),
    Column("exploit_yes", Integer, nullable=False),
    key=("repository_id", "digest", "first_observed_second"),
)
"""Findings per image, status and the second they were first observed in (the columns of
`finding_image_counts` plus that second): REPOSITORY, AWS_ECR_CONTAINER, FINDING_TYPE and
ACCOUNT aggregations filtered by a `firstObservedAt` range (and image criteria) sum the rows of
the seconds wholly inside the range and count the findings of the one or two seconds the
range's ends cut from `findings` itself (`finding_queries/aggregation_first_seen.py`), instead
of reading every finding in the range. A finding's `first_observed_at` never changes, and a
scan stamps all the findings it first observes with one instant, so an image has a row per
scan or advisory update that added findings to it: 17,994 rows at 1,000,000 findings
(`bench/findings.py`: as many as `finding_image_counts`, each image's findings first observed
at its push; 3.2 MB, 3.2 bytes a finding), and at most one more per image for each advisory
update that adds findings to it (docs/findings.md)."""


finding_rollup_deferrals = Table(
    "finding_rollup_deferrals",
    metadata,
    Column("batch", Integer, primary_key=True),
)
"""While a row is here (only inside the transaction of a batch writer, which deletes it before
commit), the rollup triggers stand aside: the writer counts the whole batch in set-oriented
statements instead (storage/sql/rollup_batches.py)."""
