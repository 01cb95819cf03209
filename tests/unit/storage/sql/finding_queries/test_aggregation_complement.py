"""The filter complement's interval arithmetic (`finding_queries/aggregation_complement.py`);
its aggregations are checked against a recount in tests/contract/test_complement_aggregations.py."""

from __future__ import annotations

import itertools
from typing import Any

from dockwatch.storage.sql.finding_queries import aggregation_complement


def _in(value: Any, ranges: list[tuple[Any, Any]]) -> bool:
    return any((lo is None or value >= lo) and (hi is None or value <= hi) for lo, hi in ranges)


def test_gaps_are_what_no_range_holds() -> None:
    """The open intervals between closed ranges, against a brute force over small integers
    (a range's bounds and the values around them)."""
    values = range(-1, 8)
    bounds = [None, 0, 2, 3, 5, 6]
    pairs = list(itertools.product(bounds, bounds))
    for ranges in itertools.chain(
        ([p] for p in pairs), itertools.combinations(pairs, 2), itertools.combinations(pairs, 3)
    ):
        found = aggregation_complement.gaps(list(ranges))
        for v in values:
            held = _in(v, list(ranges))
            in_gap = any((lo is None or v > lo) and (hi is None or v < hi) for lo, hi in found)
            assert held != in_gap, (ranges, v, found)
