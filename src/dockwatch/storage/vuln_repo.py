"""The storage interface for advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS).

Services depend on this protocol only; `storage/sql/vuln_repo.py` implements it (SQLite and
PostgreSQL through SQLAlchemy Core). Methods act inside the unit of work that hands the
repository out, so a change and its outbox event commit together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from dockwatch.value_class import frozen


@frozen
class StoredAdvisory:
    """The part of a stored advisory an import compares against."""

    fingerprint: str
    withdrawn: bool
    package_keys: frozenset[tuple[str, str]]


@frozen
class AdvisoryRow:
    """An advisory to write: its content and its affected entries as (ecosystem, name, entry)."""

    id: str
    fingerprint: str
    withdrawn: bool
    modified: datetime | None
    content: dict[str, Any]
    affected: Sequence[tuple[str, str, dict[str, Any]]]


Blob = bytes | bytearray
"""Serialized bytes to store: a `bytearray` when a parsing process sent them (the SQLite
driver binds one without looking for an adapter first, see `vulndb.parallel`)."""


@frozen
class EncodedAdvisory:
    """An advisory to write, already serialized: what an import hands storage (a parsing
    process can make it, so the writer only compares fingerprints and inserts bytes)."""

    id: str
    fingerprint: str
    withdrawn: bool
    modified: datetime | None
    content: Blob
    """The normalized content, serialized (keys sorted) and packed (`pack_content`)."""
    affected: tuple[tuple[str, str, Blob], ...]
    """(ecosystem, name, serialized entry) of each affected entry."""
    read_digest: str | None = None
    """The digest of the record file's bytes it was read from (`feeds.record_digest`, hex),
    when they gave it alone and without a warning: a later import that finds the same bytes
    knows it unchanged without reading them (`KnownRecord`)."""


@frozen
class KnownRecord:
    """A record an import found stored from the same bytes (`EncodedAdvisory.read_digest`),
    so not read again: it is unchanged, provided the stored advisory `id` still has that
    digest when it is written."""

    id: str
    read_digest: str


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()


def pack_content(blob: bytes) -> bytes:
    """An advisory's serialized content as stored: a zstd frame. Advisory texts compress about
    2.8 to 1 (39 MB of OSV content to 14 MB), and the stored bytes are what a full import
    writes: level 1 costs 8 us an advisory, in the parsing processes."""
    compressor = getattr(_codecs, "compressor", None)
    if compressor is None:  # one per thread: zstandard's objects are not thread-safe
        import zstandard  # here, not at import: the CLI's start-up does not pay for it

        compressor = _codecs.compressor = zstandard.ZstdCompressor(level=1)
    packed: bytes = compressor.compress(blob)
    return packed


def unpack_content(stored: bytes) -> bytes:
    """The serialized content of a stored advisory: a zstd frame unpacked, or the JSON as it
    is (databases written before contents were packed)."""
    if not stored.startswith(_ZSTD_MAGIC):
        return stored
    decompressor = getattr(_codecs, "decompressor", None)
    if decompressor is None:
        import zstandard

        decompressor = _codecs.decompressor = zstandard.ZstdDecompressor()
    blob: bytes = decompressor.decompress(stored)
    return blob


def encode(row: AdvisoryRow) -> EncodedAdvisory:
    """`row` serialized as stored."""
    return EncodedAdvisory(
        row.id,
        row.fingerprint,
        row.withdrawn,
        row.modified,
        pack_content(orjson.dumps(row.content, option=orjson.OPT_SORT_KEYS)),
        tuple(
            (eco, name, orjson.dumps(entry, option=orjson.OPT_SORT_KEYS))
            for eco, name, entry in row.affected
        ),
    )


# --- reads for matching and finding drafts (scanning) ------------------------------------------


@frozen
class AffectedRow:
    """One affected entry as read back for matching."""

    source: str
    advisory_id: str
    ecosystem: str
    name: str
    entry: dict[str, Any]


AffectedDocument = tuple[str, str, str, str, bytes]
"""(ecosystem, name, source, advisory id, serialized entry) of one affected entry, as stored:
the persisted match index copies the bytes without decoding them."""

DeltaRow = tuple[int, str, str, str, list[list[str]]]
"""(version, source, advisory id, change, package keys) of one changed advisory."""


# --- end of the reads for scanning ---------------------------------------------------------------
@frozen
class Change:
    """One delta row: an advisory's change and the package keys it touched (before and after)."""

    advisory_id: str
    change: str
    """`added`, `modified` or `withdrawn`."""
    package_keys: Sequence[tuple[str, str]]


@frozen
class FeedSource:
    """A feed's bookkeeping: what was stored from it and how its last runs went."""

    name: str
    kind: str
    feed_version: int
    fingerprint: str | None
    records: int
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_change_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


@frozen
class SourceImport:
    """A successful import of a source, as its bookkeeping row records it."""

    kind: str
    records: int
    at: datetime
    changed: bool
    feed_version: int | None = None
    """None leaves the stored parser version as it is (enrichment imports)."""
    fingerprint: str | None = None
    """None leaves the stored upstream fingerprint as it is."""


@frozen
class EnrichmentRecord:
    """One stored enrichment record in its serialized form (offline bundles copy the bytes)."""

    kind: str
    cve_id: str
    content: bytes


class VulnRepo(Protocol):
    """Advisories, feed update operations and their deltas, enrichment (CVSS, KEV, EPSS)."""

    # --- reads for matching and finding drafts (scanning) --------------------------------------
    # --- advisories and versions ---------------------------------------------------------------

    def stored_advisories(self, source: str) -> dict[str, StoredAdvisory]:
        """Every advisory of `source` with its fingerprint and package keys."""
        ...

    def stored_fingerprints(self, source: str) -> dict[str, tuple[str, bool]]:
        """Advisory id -> (fingerprint, withdrawn) of every advisory of `source`: what an
        import compares against, read in one pass without the affected rows."""
        ...

    def stored_package_keys(
        self, source: str, ids: Iterable[str]
    ) -> dict[str, frozenset[tuple[str, str]]]:
        """The (ecosystem, name) keys the stored advisories `ids` of `source` affect."""
        ...

    def stored_read_digests(self, source: str) -> dict[str, str]:
        """Advisory id -> read digest of the advisories of `source` that have one."""
        ...

    def known_records(self, source: str | None = None) -> dict[str, tuple[str, str]]:
        """Read digest -> (advisory id, source) of every advisory that has one, or of
        `source`'s alone: what a parsing process need not read again."""
        ...

    def set_read_digests(self, source: str, digests: Sequence[tuple[str, str]]) -> None:
        """Record (advisory id, read digest) of stored advisories of `source` whose content
        did not change but whose bytes did (or that were stored before digests were)."""
        ...

    def new_version(self, source: str, summary: dict[str, int], at: datetime) -> int:
        """Create the next database version."""
        ...

    def current_version(self) -> int:
        """The newest database version (0 for an empty database)."""
        ...

    def all_affected(self) -> Iterable[AffectedRow]:
        """Every affected entry of every non-withdrawn advisory (for the in-memory index)."""
        ...

    def affected_for(self, keys: Iterable[tuple[str, str]]) -> list[AffectedRow]:
        """Affected entries of non-withdrawn advisories under the (ecosystem, name) keys."""
        ...

    def affected_documents(
        self, keys: Iterable[tuple[str, str]] | None = None
    ) -> Iterator[AffectedDocument]:
        """Affected entries of non-withdrawn advisories in their stored form, every one or
        those under the (ecosystem, name) `keys`."""
        ...

    def changes_between(self, after: int, upto: int) -> list[DeltaRow]:
        """Delta rows of the versions in (after, upto]."""
        ...

    def advisory_contents(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored contents of (source, advisory id) keys (withdrawn ones included)."""
        ...

    def enrichment_for(self, cve_ids: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """cve -> enrichment kind -> content, for the given CVEs."""
        ...

    # --- end of the reads for scanning -------------------------------------------------------
    def version_created_at(self, version: int) -> datetime | None:
        """When a database version was made."""
        ...

    def write_advisories(self, source: str, rows: Sequence[AdvisoryRow], version: int) -> None:
        """Replace these advisories (and their affected rows) of `source`."""
        ...

    def insert_advisories(self, source: str, rows: Sequence[EncodedAdvisory], version: int) -> None:
        """Insert advisories that are not stored (delete a replaced one first), in bulk."""
        ...

    def delete_advisories(self, source: str, ids: Iterable[str]) -> None:
        """Remove advisories a complete feed no longer lists."""
        ...

    def record_changes(self, version: int, source: str, changes: Sequence[Change]) -> None:
        """One delta row per changed advisory: its change and package keys before and after."""
        ...

    def count_advisories(self, source: str | None = None) -> int:
        """How many advisories (of one source) are stored."""
        ...

    def advisory_documents(self) -> Iterator[tuple[str, bytes]]:
        """Every advisory as (source, serialized normalized content), by source and id."""
        ...

    # --- enrichment ----------------------------------------------------------------------------

    def enrichment_fingerprints(self, kind: str) -> dict[str, str]:
        """CVE id -> fingerprint for one enrichment kind."""
        ...

    def write_enrichment(
        self, kind: str, rows: Sequence[tuple[str, str, dict[str, Any]]], version: int
    ) -> None:
        """Replace enrichment records: (cve id, fingerprint, content)."""
        ...

    def enrichment_documents(self) -> Iterator[EnrichmentRecord]:
        """Every enrichment record, by kind and CVE id."""
        ...

    # --- feed bookkeeping ----------------------------------------------------------------------

    def source(self, name: str) -> FeedSource | None:
        """A feed's bookkeeping row."""
        ...

    def sources(self) -> list[FeedSource]:
        """Every feed's bookkeeping row, by name."""
        ...

    def record_import(self, name: str, done: SourceImport) -> None:
        """A successful import: counts, times, and the fingerprint of what was read."""
        ...

    def record_heartbeat(self, name: str, at: datetime) -> None:
        """A fetch found nothing new upstream: the source is fresh as of `at`."""
        ...

    def record_failure(self, name: str, error: str, at: datetime) -> None:
        """A failed fetch or import; the data stays as it was."""
        ...

    # --- the sync lease ------------------------------------------------------------------------

    def acquire_lease(
        self,
        name: str,
        holder: str,
        now: datetime,
        expires_at: datetime,
        gone: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take (or renew) the named lease unless another holder has it until after `now`,
        and `gone` does not say that holder is gone (a process that no longer runs)."""
        ...

    def lease(self, name: str) -> tuple[str, datetime] | None:
        """The named lease's holder and when it expires (None: nobody holds it)."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease back (only its holder can)."""
        ...
