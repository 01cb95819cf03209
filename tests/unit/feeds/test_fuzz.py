"""Random damage to real-shaped records: parsers return a value or report a problem, nothing else."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwatch.feeds import fields as f
from dockwatch.feeds.alpine import collect_document
from dockwatch.feeds.debian import parse_document
from dockwatch.feeds.feed import FeedFormatError
from dockwatch.feeds.kev import parse_entry
from dockwatch.feeds.nvd import parse_cve
from dockwatch.feeds.osv import parse_record
from tests.builders import feeds as b

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _damage(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths[1:] or paths))
        if not path:
            return data.draw(json_values)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(json_values)
    return doc


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_osv(data: st.DataObject) -> None:
    rec = _damage(data.draw(st.sampled_from(b.GHSA_EXAMPLES)), data)
    try:
        parse_record(rec, "fuzz")
    except f.BadRecord:
        pass


@FUZZ
@given(st.data())
def test_debian(data: st.DataObject) -> None:
    doc = _damage(b.DEBIAN_EXAMPLE, data)
    try:
        list(parse_document(doc, "fuzz"))
    except FeedFormatError:
        pass


@FUZZ
@given(st.data())
def test_alpine(data: st.DataObject) -> None:
    import orjson

    doc = _damage(orjson.loads(b.alpine_secdb("v3.19", "main", b.ALPINE_MAIN_V319)), data)
    try:
        list(collect_document(doc, "fuzz", {}))
    except FeedFormatError:
        pass


@FUZZ
@given(st.data())
def test_nvd_and_kev(data: st.DataObject) -> None:
    item = _damage(data.draw(st.sampled_from(b.NVD_EXAMPLES)), data)
    try:
        parse_cve(item)
    except f.BadRecord:
        pass
    entry = _damage({"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10", "cwes": ["CWE-20"],
                     "knownRansomwareCampaignUse": "Known", "dueDate": "2021-12-24"}, data)  # fmt: skip
    try:
        parse_entry(entry)
    except f.BadRecord:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["r.json", "r.yaml"]))
def test_osv_random_bytes(data: bytes, name: str) -> None:
    import tempfile
    from pathlib import Path

    from dockwatch.feeds.feed import ParseProblem
    from dockwatch.feeds.osv import iter_file
    from dockwatch.model.advisory import Advisory

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(b"id: X\n" + data if name.endswith("yaml") else data)
        for item in iter_file(p, "fuzz"):
            assert isinstance(item, ParseProblem | Advisory)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_epss_random_rows(body: str) -> None:
    import io

    from dockwatch.feeds.epss import parse_stream

    list(parse_stream(io.StringIO("cve,epss,percentile\n" + body), "fuzz"))
