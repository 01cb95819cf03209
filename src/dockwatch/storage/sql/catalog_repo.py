"""Per-layer catalog results in SQL: the server's `CatalogCache`.

Results are keyed by (layer digest, cataloger name, cataloger version), so a layer shared by
many images and repositories is catalogued once, and bumping a cataloger's version makes its
old rows simply not match. Values are stored as orjson documents of the dataclasses.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from dockwatch.catalog.cataloger import CatalogResult, FileEntry, Skipped
from dockwatch.catalog.service import LayerFacts
from dockwatch.clock import Clock
from dockwatch.model.digest import Digest
from dockwatch.model.package_doc import (
    json_default,
    package_from_dict,
)
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.engine import Database


def dump_result(result: CatalogResult) -> bytes:
    """Serialize a cataloger's result for one layer."""
    return orjson.dumps(dataclasses.asdict(result), default=json_default)


def load_result(raw: bytes) -> CatalogResult:
    """The inverse of `dump_result`."""
    d = orjson.loads(raw)
    return CatalogResult(
        packages=tuple(package_from_dict(p) for p in d.get("packages", ())),
        skipped=tuple(Skipped(**s) for s in d.get("skipped", ())),
        owned_files=tuple((name, tuple(paths)) for name, paths in d.get("owned_files", ())),
    )


def _file(d: dict[str, Any]) -> FileEntry:
    data = d.get("data")
    if isinstance(data, dict):
        data = bytes.fromhex(data["__bytes__"])
    return FileEntry(**{**d, "data": data})


def dump_facts(facts: LayerFacts) -> bytes:
    """Serialize a layer's facts."""
    return orjson.dumps(dataclasses.asdict(facts), default=json_default)


def load_facts(raw: bytes) -> LayerFacts:
    """The inverse of `dump_facts`."""
    d = orjson.loads(raw)
    return LayerFacts(
        diff_id=None if d.get("diff_id") is None else Digest(d["diff_id"]),
        whiteouts=frozenset(d.get("whiteouts", ())),
        opaque_dirs=frozenset(d.get("opaque_dirs", ())),
        release_files=tuple(_file(f) for f in d.get("release_files", ())),
        warnings=tuple(d.get("warnings", ())),
        complete=bool(d.get("complete", True)),
    )


class SqlCatalogCache:
    """`CatalogCache` over the database; concurrent writers of one key are harmless."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def get(self, layer: Digest, cataloger: str, version: int) -> CatalogResult | None:
        """The stored result of `cataloger`@`version` for `layer`."""
        r = t.catalog_results
        with self.db.read() as conn:
            raw = conn.execute(
                select(r.c.result).where(
                    r.c.layer_digest == layer, r.c.cataloger == cataloger, r.c.version == version
                )
            ).scalar()
        return None if raw is None else load_result(raw)

    def put(self, layer: Digest, cataloger: str, version: int, result: CatalogResult) -> None:
        """Store a result (a concurrent identical write wins or loses harmlessly)."""
        self._insert(
            t.catalog_results,
            {
                "layer_digest": layer,
                "cataloger": cataloger,
                "version": version,
                "result": dump_result(result),
            },
        )

    def get_facts(self, layer: Digest, version: int) -> LayerFacts | None:
        """The stored facts of `layer`."""
        f = t.catalog_layer_facts
        with self.db.read() as conn:
            raw = conn.execute(
                select(f.c.facts).where(f.c.layer_digest == layer, f.c.version == version)
            ).scalar()
        return None if raw is None else load_facts(raw)

    def put_facts(self, layer: Digest, version: int, facts: LayerFacts) -> None:
        """Store the facts of `layer`."""
        self._insert(
            t.catalog_layer_facts,
            {"layer_digest": layer, "version": version, "facts": dump_facts(facts)},
        )

    def _insert(self, table: Any, values: dict[str, Any]) -> None:
        now: datetime = self.clock.now()
        try:
            with self.db.write() as conn:
                conn.execute(insert(table).values(**values, created_at=now))
        except IntegrityError:
            pass  # another worker stored the same key first


class SqlCatalogRepo:
    """`storage.catalog_repo.CatalogRepo` over one connection of a unit of work."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
