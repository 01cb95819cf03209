"""The digests of the bytes stored advisories were read from (`vuln_advisories.read_digest`,
`feeds/record_digest.py`): what an import need not read again."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select, update

from dockwatch.storage.sql import tables as t


def stored_read_digests(conn: Connection, source: str) -> dict[str, str]:
    """Advisory id -> read digest of the advisories of `source` that have one."""
    adv = t.vuln_advisories
    query = select(adv.c.id, adv.c.read_digest).where(
        adv.c.source == source, adv.c.read_digest.is_not(None)
    )
    return dict(conn.execute(query).all())


def known_records(conn: Connection, source: str | None) -> dict[str, tuple[str, str]]:
    """Read digest -> (advisory id, source), of every source or of `source`."""
    adv = t.vuln_advisories
    query = select(adv.c.read_digest, adv.c.id, adv.c.source).where(adv.c.read_digest.is_not(None))
    if source is not None:
        query = query.where(adv.c.source == source)
    return {digest: (aid, src) for digest, aid, src in conn.execute(query)}


def set_read_digests(conn: Connection, source: str, digests: Sequence[tuple[str, str]]) -> None:
    """Record the (advisory id, read digest) pairs of advisories of `source`."""
    if not digests:
        return
    adv = t.vuln_advisories
    conn.execute(
        update(adv)
        .where(adv.c.source == source, adv.c.id == bindparam("aid"))
        .values(read_digest=bindparam("digest")),
        [{"aid": aid, "digest": digest} for aid, digest in digests],
    )
