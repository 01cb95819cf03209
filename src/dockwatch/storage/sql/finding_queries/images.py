"""What the images of one page of findings or groups contribute: tags, push and pull times,
each read in bulk for the whole page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, and_, select, tuple_

from dockwatch.model.times import as_utc_or_none
from dockwatch.storage.finding_query_repo import ImageFacts
from dockwatch.storage.sql import tables as t

_CHUNK = 400


def image_contexts(
    conn: Connection, resources: Iterable[tuple[int, str, str]]
) -> dict[tuple[int, str], ImageFacts]:
    """Tags and push time of image resources ((repository id, name, digest)), in one query per
    400 images."""
    wanted = sorted(set(resources))
    tags: dict[tuple[int, str], list[str]] = {}
    pushed: dict[tuple[int, str], datetime | None] = {}
    tg, m = t.tags, t.manifests
    for start in range(0, len(wanted), _CHUNK):
        part = [(r, d) for r, _, d in wanted[start : start + _CHUNK]]
        rows = conn.execute(
            select(m.c.repository_id, m.c.digest, m.c.image_pushed_at, tg.c.name)
            .select_from(
                m.outerjoin(
                    tg,
                    and_(
                        tg.c.repository_id == m.c.repository_id, tg.c.manifest_digest == m.c.digest
                    ),
                )
            )
            .where(tuple_(m.c.repository_id, m.c.digest).in_(part))
        )
        for row in rows:
            key = (row.repository_id, row.digest)
            pushed[key] = as_utc_or_none(row.image_pushed_at)
            if row.name is not None:
                tags.setdefault(key, []).append(row.name)
    return {
        (r, d): ImageFacts(n, d, tuple(sorted(tags.get((r, d), ()))), pushed.get((r, d)))
        for r, n, d in wanted
    }


def tags_and_last_pull(
    conn: Connection, images: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], tuple[tuple[str, ...], datetime | None]]:
    """Tags (sorted) and last pull of the images of one page of groups."""
    wanted = sorted(set(images))
    if not wanted:
        return {}
    tags: dict[tuple[int, str], list[str]] = {}
    tg, m = t.tags, t.manifests
    for row in conn.execute(
        select(tg.c.repository_id, tg.c.manifest_digest, tg.c.name)
        .where(tuple_(tg.c.repository_id, tg.c.manifest_digest).in_(wanted))
        .order_by(tg.c.name)
    ):
        tags.setdefault((row.repository_id, row.manifest_digest), []).append(row.name)
    out: dict[tuple[int, str], tuple[tuple[str, ...], datetime | None]] = {}
    for row in conn.execute(
        select(m.c.repository_id, m.c.digest, m.c.last_pulled_at).where(
            tuple_(m.c.repository_id, m.c.digest).in_(wanted)
        )
    ):
        key = (row.repository_id, row.digest)
        out[key] = (tuple(tags.get(key, ())), as_utc_or_none(row.last_pulled_at))
    for key in wanted:
        out.setdefault(key, (tuple(tags.get(key, ())), None))
    return out
