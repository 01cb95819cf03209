"""A JSON record decoded by msgspec into typed structs gives what the general reading gives
(orjson, then `osv_content.read_content`, itself held to the model path): the same stored
bytes, id and warnings, or None and the general reading runs. The oracle is the general
reading, on every real JSON record of the shared snapshot (when present), the GHSA fixtures,
and random damages of them."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.feeds import fields as f
from dockwatch.feeds import osv, osv_content, osv_typed
from dockwatch.vulndb import parallel
from dockwatch.vulndb.service import encode_content
from tests.unit.feeds.test_osv_content import RICH, _damage, _real_records

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"
needs_shared = pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")


def _general(data: bytes) -> tuple[Any, ...]:
    try:
        doc = osv.decode(data, "r.json", osv.Limits())
        if not osv.looks_like_record(doc):
            return ("skipped",)
        assert isinstance(doc, dict)
        item, rid, warnings = osv_content.read_content(doc, "osv")
    except f.BadRecord as exc:
        return ("bad", exc.reason)
    return ("ok", encode_content(item.content, item.modified), rid, warnings)


def _typed(data: bytes) -> tuple[Any, ...] | None:
    read = osv_typed.read_json(data, "osv")
    if read is None:
        return None
    item, rid, warnings = read
    assert item.doc is None
    return ("ok", encode_content(item.content, item.modified), rid, warnings)


@needs_shared
@pytest.mark.parametrize(
    "folder", sorted(p.name for p in VULNDATA.iterdir() if p.is_dir()) if VULNDATA.is_dir() else []
)
def test_every_real_json_record_reads_the_same_typed(folder: str) -> None:
    typed = 0
    for path in sorted((VULNDATA / folder).rglob("*.json")):
        data = path.read_bytes()
        general = _general(data)
        got = _typed(data)
        if general[0] == "ok":
            assert got == general, path  # a real record never falls back
            typed += 1
        else:
            assert got is None, path
    assert typed or folder in ("cisagov-kev-data", "pypa-advisory-database")


def _dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_records_read_typed_give_the_same_or_fall_back(seed: int) -> None:
    rng = random.Random(seed)
    docs = _real_records(20)
    outcomes: dict[str, int] = {}
    for _ in range(1500):
        data = _dumps(_damage(rng.choice(docs), rng))
        general = _general(data)
        got = _typed(data)
        if got is not None:
            assert got == general, data[:400]
        kind = "fell back" if got is None else ("warned" if got[3] else "ok")
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert set(outcomes) == {"ok", "warned", "fell back"}  # the damages reach every outcome


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z", "x": "\xff"}',  # invalid UTF-8
        b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z", "x": "\\ud800"}',  # lone surrogate
        b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z", "x": '
        + b"[" * 3000
        + b"]" * 3000
        + b"}",
        b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z", "x": NaN}',
        b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z"} trailing',
        b'\xef\xbb\xbf{"id": "A-1", "modified": "2026-01-01T00:00:00Z"}',
        b'{"id": "A-1", "summary": "no affected, no modified: not a record"}',
        b'[{"id": "A-1", "modified": "2026-01-01T00:00:00Z"}]',
        b'{"id": 7, "modified": "2026-01-01T00:00:00Z"}',
        b'{"id": "A-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},'
        b' "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": 0}]}]}]}',
    ],
)
def test_what_the_general_reading_refuses_or_skips_falls_back(data: bytes) -> None:
    assert _general(data)[0] in ("bad", "skipped")
    assert osv_typed.read_json(data, "osv") is None


def test_repeated_keys_keep_the_last_value_as_the_general_reading_does() -> None:
    data = b'{"id": "A-1", "summary": "first", "summary": "last", "modified": null}'
    got = _typed(data)
    assert got is not None and got == _general(data)
    read = osv_typed.read_json(data, "osv")
    assert read is not None and read[0].content["summary"] == "last"


def test_the_rich_record_reads_the_same_typed() -> None:
    rich = copy.deepcopy(RICH)
    assert _typed(_dumps(rich)) is None  # a number among its CWE ids: the general reading
    rich["database_specific"]["cwe_ids"].remove(3)
    data = _dumps(rich)
    got = _typed(data)
    assert got is not None and got == _general(data) and len(got[3]) == 2


def test_a_file_parsed_typed_and_in_general_gives_the_same(tmp_path: Path) -> None:
    rng = random.Random(9)
    docs = _real_records(10)
    for n in range(200):
        path = tmp_path / f"r{n}.json"
        path.write_bytes(_dumps(_damage(rng.choice(docs), rng) if n % 2 else rng.choice(docs)))
        typed = parallel.parse_file(str(path), osv.Limits())
        general = parallel.parse_file(str(path), osv.Limits(), typed=False)
        assert typed == general, path.read_bytes()[:300]


def test_a_number_out_of_range_in_a_field_not_read_no_longer_refuses_the_record() -> None:
    """The one difference the module docstring names: orjson refuses the whole record, the
    structs skip the field without converting the number, and the record reads as without it."""
    data = b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z", "credits": [{"n": 1e400}]}'
    assert _general(data)[0] == "bad"
    without = b'{"id": "A-1", "modified": "2026-01-01T00:00:00Z"}'
    assert _typed(data) == _general(without)
