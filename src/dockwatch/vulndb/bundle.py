"""Offline bundles (`dockwatch db export FILE`, then `db import FILE` elsewhere) for air-gapped sites.

A bundle is gzip-compressed JSON lines: a header, then every advisory in its stored normalized
form with its source, then every enrichment record. Importing it goes through the same
fingerprint comparison as a feed import, so re-importing a bundle changes nothing and a newer
bundle yields an exact delta.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from .service import ImportResult, VulnDb, row_from_content

SUFFIX = ".dwdb"
FORMAT = "dockwatch-vulndb-bundle"


class BundleError(ValueError):
    """The file is not a dockwatch bundle, or is damaged."""


def export_bundle(vdb: VulnDb, path: Path) -> dict[str, int]:
    """Write every advisory and enrichment record to `path`; returns counts."""
    counts = {"advisories": 0, "enrichment": 0}
    tmp = path.with_name(path.name + ".tmp")
    with vdb.store.read() as uow, gzip.open(tmp, "wb", compresslevel=6) as out:
        repo = uow.vulns
        version = repo.current_version()
        out.write(
            orjson.dumps({"format": FORMAT, "formatVersion": 1, "dbVersion": version}) + b"\n"
        )
        sources = {s.name: s.kind for s in repo.sources()}
        out.write(orjson.dumps({"t": "sources", "sources": sources}) + b"\n")
        for source, content in repo.advisory_documents():
            out.write(
                b'{"t":"advisory","source":'
                + orjson.dumps(source)
                + b',"content":'
                + content
                + b"}\n"
            )
            counts["advisories"] += 1
        for er in repo.enrichment_documents():
            head = orjson.dumps({"t": "enrichment", "kind": er.kind, "cve": er.cve_id})[:-1]
            out.write(head + b',"content":' + er.content + b"}\n")
            counts["enrichment"] += 1
    tmp.replace(path)
    return counts


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as f:
            for n, line in enumerate(f):
                doc = orjson.loads(line)
                if n == 0 and doc.get("format") != FORMAT:
                    raise BundleError(f"{path} is not a dockwatch bundle")
                yield doc
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        raise BundleError(f"{path}: damaged bundle: {exc}") from exc


def import_bundle(vdb: VulnDb, path: Path) -> list[ImportResult]:
    """Apply a bundle: one transaction per source, as complete snapshots of each source."""
    advisories: dict[str, list[dict[str, Any]]] = {}
    enrichment: list[tuple[str, str, dict[str, Any]]] = []
    kinds: dict[str, str] = {}
    for doc in _lines(path):
        match doc.get("t"):
            case "sources":
                kinds = dict(doc["sources"])
            case "advisory":
                advisories.setdefault(doc["source"], []).append(doc["content"])
            case "enrichment":
                enrichment.append((doc["kind"], doc["cve"], doc["content"]))
    results = [
        vdb.apply_rows(
            source,
            (row_from_content(c) for c in contents),
            complete=True,
            kind=kinds.get(source, "vulnerability"),
        )
        for source, contents in sorted(advisories.items())
    ]
    by_kind: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for row in enrichment:
        by_kind.setdefault(row[0], []).append(row)
    for kind, rows in sorted(by_kind.items()):  # enrichment feeds are named after their kind
        results.append(vdb.apply_enrichment_rows(kind, rows))
    return results
