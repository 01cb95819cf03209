"""SQL for inventory package documents (content-addressed) and the package-key index of images.

Findings name their vulnerable packages by these refs; a feed delta finds the images holding a
changed package through `package_pairs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, select, tuple_

from dockwatch.model.package import Package
from dockwatch.model.package_doc import load_package
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.batching import chunks


def put_packages(conn: Connection, docs: Mapping[str, bytes]) -> None:
    """Store package documents not stored yet (ref -> document)."""
    p = t.inventory_packages
    have: set[str] = set()
    refs = sorted(docs)
    for part in chunks(refs):
        have |= {r.ref for r in conn.execute(select(p.c.ref).where(p.c.ref.in_(part)))}
    rows = [{"ref": ref, "doc": docs[ref]} for ref in refs if ref not in have]
    if rows:
        conn.execute(p.insert(), rows)


def load_packages(conn: Connection, refs: Iterable[str]) -> dict[str, Package]:
    """Packages by ref."""
    p = t.inventory_packages
    out: dict[str, Package] = {}
    for part in chunks(sorted(set(refs))):
        for r in conn.execute(select(p.c.ref, p.c.doc).where(p.c.ref.in_(part))):
            out[r.ref] = load_package(r.doc)
    return out


def package_pairs(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(image digest, package ref) of every inventory package looked up under one of `keys`."""
    g, ig = t.package_groups, t.image_package_groups
    out: list[tuple[str, str]] = []
    for part in chunks(sorted(set(keys)), 400):
        out += [
            (r.digest, r.pkg_ref)
            for r in conn.execute(
                select(ig.c.digest, g.c.pkg_ref)
                .join(ig, ig.c.group_ref == g.c.group_ref)
                .where(tuple_(g.c.ecosystem, g.c.name).in_(list(part)))
            )
        ]
    return out
