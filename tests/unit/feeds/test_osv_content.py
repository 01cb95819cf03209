"""Reading an OSV record straight into its stored form gives what the model path gives:
`osv.parse_record` then `canonical_content`, serialized as stored. The oracle is the model path,
run on real records (the shared snapshot when present, the GHSA fixtures always) and on many
random damages of them, where both must agree on the stored bytes, the warnings, or the error."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from dockwatch.feeds import fields as f
from dockwatch.feeds import osv, osv_content
from dockwatch.vulndb.service import encode_advisory, encode_content
from tests.builders import feeds as b

VULNDATA = Path(__file__).resolve().parents[3].parent / "shared" / "vulndata"
needs_shared = pytest.mark.skipif(not VULNDATA.is_dir(), reason="../shared/vulndata is absent")

RICH: dict[str, Any] = {
    "id": "RICH-2026-1",
    "aliases": ["CVE-2026-2", "CVE-2026-1", "CVE-2026-1"],
    "related": ["GHSA-xxxx-yyyy-zzzz"],
    "upstream": ["CVE-2026-3"],
    "summary": "every field",
    "details": "d" * 300,
    "published": "2026-01-02T03:04:05.123Z",
    "modified": "2026-01-03T00:00:00+02:00",
    "severity": [
        {"type": "CVSS_V3", "score": " CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H "},
        {"type": "Ubuntu", "score": "medium"},
        {"type": "CVSS_V2", "score": ""},
        {"type": "SOMETHING", "score": "x"},
    ],
    "database_specific": {"severity": " Moderate ", "cwe_ids": ["CWE-79", "nope", 3, "CWE-20"]},
    "references": [{"type": "web", "url": "https://a"}, {"type": "", "url": "https://b"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Django_Rest.Framework", "purl": "pkg:x"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1"}]},
                {"type": "GIT", "repo": "https://g", "events": [{"introduced": "abc"}]},
            ],
            "versions": ["3.0", "2.9", "1.0"],
            "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}],
        },
        {"ranges": [{"type": "GIT", "repo": "https://g", "events": [{"introduced": "0"}]}]},
        {"package": {"ecosystem": "Nowhere", "name": "x"}},
        {
            "package": {"ecosystem": "Go", "name": "example.com/m/"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"limit": "2.0.0"}]}],
        },
        {"package": {"ecosystem": "Maven", "name": " g : a "}, "versions": []},
    ],
}


def _model(doc: dict[str, Any]) -> tuple[Any, ...]:
    try:
        adv, warnings = osv.parse_record(doc, "osv")
    except f.BadRecord as exc:
        return ("bad", exc.reason)
    return ("ok", encode_advisory(adv), adv.id, warnings)


def _direct(doc: dict[str, Any]) -> tuple[Any, ...]:
    try:
        item, rid, warnings = osv_content.read_content(doc, "osv")
    except f.BadRecord as exc:
        return ("bad", exc.reason)
    return ("ok", encode_content(item.content, item.modified), rid, warnings)


def _real_records(per_folder: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [copy.deepcopy(RICH), *b.GHSA_EXAMPLES]
    if VULNDATA.is_dir():
        for folder in sorted(p for p in VULNDATA.iterdir() if p.is_dir()):
            paths = sorted(folder.rglob("*.json")) + sorted(folder.rglob("*.yaml"))
            for path in random.Random(folder.name).sample(paths, min(per_folder, len(paths))):
                doc = osv.decode(path.read_bytes(), path.name, osv.Limits())
                if osv.looks_like_record(doc):
                    assert isinstance(doc, dict)
                    docs.append(doc)
    return docs


def test_usual_records_are_read_directly_into_the_stored_form() -> None:
    docs = _real_records(150)
    for doc in docs:
        assert osv_content.fast_content(doc, "osv") is not None, doc.get("id")
        assert _direct(doc) == _model(doc), doc.get("id")
    rich = _direct(RICH)
    assert rich[0] == "ok" and len(rich[3]) == 2  # the GIT-only and unknown-ecosystem entries


@needs_shared
@pytest.mark.parametrize(
    "folder", sorted(p.name for p in VULNDATA.iterdir() if p.is_dir()) if VULNDATA.is_dir() else []
)
def test_a_whole_shared_folder_reads_the_same_both_ways(folder: str) -> None:
    paths = sorted((VULNDATA / folder).rglob("*.json")) + sorted(
        (VULNDATA / folder).rglob("*.y*ml")
    )
    direct = 0
    for path in paths[::7]:  # a seventh of each folder keeps this to a few seconds
        doc = osv.decode(path.read_bytes(), path.name, osv.Limits())
        if osv.looks_like_record(doc):
            assert isinstance(doc, dict)
            assert _direct(doc) == _model(doc), path
            direct += osv_content.fast_content(doc, "osv") is not None
    assert direct or folder == "cisagov-kev-data"


_VALUES: list[Any] = [
    None,
    0,
    1.5,
    True,
    "",
    " ",
    "x",
    "1.0",
    "CVE-2026-9",
    "a b",
    "\x00",
    "z" * 70,
    "y" * 3000,
    [],
    ["1.0"],
    [1],
    [None],
    {},
    {"introduced": "0"},
    {1: "0"},  # YAML keys need not be strings
    {"fixed": "1", "introduced": "0"},
    {"type": "ECOSYSTEM", "events": []},
    {"type": "web", "url": "u"},
    {"ecosystem": "PyPI", "name": "A_b"},
    {"ecosystem": "Nowhere", "name": "x"},
    {"package": {"ecosystem": "npm", "name": "X"}},
    "2026-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "not a time",
]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _damage(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    at = rng.choice(_paths(out)[1:])
    parent: Any = out
    for step in at[:-1]:
        parent = parent[step]
    last = at[-1]
    if isinstance(parent, dict) and rng.random() < 0.15:
        del parent[last]
    else:
        parent[last] = copy.deepcopy(rng.choice(_VALUES))
    if isinstance(parent, dict) and rng.random() < 0.1:  # an extra key, known or not
        parent[rng.choice(["type", "repo", "purl", "severity", "versions", "other"])] = (
            copy.deepcopy(rng.choice(_VALUES))
        )
    return out


@pytest.mark.parametrize("seed", range(4))
def test_damaged_records_give_the_same_content_warnings_or_error(seed: int) -> None:
    rng = random.Random(seed)
    docs = _real_records(20)
    outcomes = set()
    for _ in range(1500):
        doc = _damage(rng.choice(docs), rng)
        model = _model(doc)
        assert _direct(doc) == model, orjson.dumps(doc, default=str)[:400]
        outcomes.add(model[0] if model[0] == "bad" else ("warned" if model[3] else "ok"))
    assert outcomes == {"ok", "warned", "bad"}  # the damages reach every outcome
