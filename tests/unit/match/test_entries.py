"""`make_entry` builds a stored entry's ranges directly; what it builds (or the problem it
reports) must be what the OSV parser makes of the same ranges, for stored entries as written
and for damaged ones."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dockwatch.match.entries import make_entry, stored_ranges
from dockwatch.versions import ranges_from_osv

_TEXT = st.text(alphabet="0123456789.abc-", max_size=5)
_KIND = st.sampled_from(["introduced", "fixed", "last_affected", "limit"])
_ODD: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.integers(-1, 1),
    _TEXT,
    st.sampled_from(["", "ECOSYSTEM", "GIT", "fixd", "Fixed"]),
    st.just([]),
    st.lists(_TEXT, max_size=3),
    st.dictionaries(_TEXT, _TEXT, max_size=2),
)


_EVENT = st.tuples(_KIND, _TEXT.filter(bool)).map(list)
_RANGE = st.tuples(
    st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT"]),
    st.one_of(st.none(), st.just("https://example.org/repo")),
    st.lists(_EVENT, min_size=1, max_size=4),
).map(list)


@st.composite
def stored(draw: st.DrawFn) -> Any:
    """Ranges as a stored entry holds them, half the time with one part replaced by anything."""
    raw: Any = draw(st.lists(_RANGE, max_size=3))
    if not draw(st.booleans()):
        return raw
    # every place something can be damaged: (container, index) pairs, or the whole list
    places: list[tuple[Any, int] | None] = [None]
    for rng in raw:
        places.append((raw, raw.index(rng)))
        places += [(rng, 0), (rng, 1), (rng, 2)]
        for ev in rng[2]:
            places += [(rng[2], rng[2].index(ev)), (ev, 0), (ev, 1)]
    place = draw(st.sampled_from(places))
    odd = draw(_ODD)
    if place is None:
        return odd
    container, index = place
    container[index] = odd
    return raw


def _osv_path(raw: Any) -> tuple[str, object]:
    """What the OSV parser makes of stored ranges: ("ok", ranges), ("problem", text) or
    ("raises", exception type)."""
    try:
        return "ok", ranges_from_osv(
            {"type": t, "repo": r, "events": [{k: v} for k, v in evs]} for t, r, evs in raw
        )
    except ValueError as exc:
        return "problem", f"unusable range: {exc}"
    except Exception as exc:  # noqa: BLE001 - compared by type below
        return "raises", type(exc)


_GOOD = [["introduced", "0"], ["fixed", "1.0"]]


@settings(max_examples=400, deadline=None)
@given(stored())
@example([["ECOSYSTEM", None, []]])
@example([["ECOSYSTEM", None, [["fixed", ""]]]])
@example([["ECOSYSTEM", None, [["fixed"]]]])
@example([["ECOSYSTEM", None, [["fixed", "1", "2"]]]])
@example([["ECOSYSTEM", None, [{"fixed": "1"}]]])
@example([["ECOSYSTEM", None, [[1, "1"]]]])
@example([["ECOSYSTEM", None, [["fixd", "1"]]]])
@example([["ECOSYSTEM", None, [["fixed", 1]]]])
@example([["ECOSYSTEM", None, "events"]])
@example([["ECOSYSTEM", None]])
@example([["ECOSYSTEM", None, _GOOD, 4]])
@example([["ecosystem", None, _GOOD]])
@example([["GIT", 7, _GOOD]])
@example([("SEMVER", None, _GOOD)])
@example({"type": "ECOSYSTEM"})
@example(None)
def test_stored_ranges_are_what_the_osv_parser_makes(raw: Any) -> None:
    how, expected = _osv_path(raw)
    direct = stored_ranges(raw)
    if direct is not None:  # the direct path never accepts what the parser rejects
        assert (how, expected) == ("ok", direct)
    if how == "raises":
        try:
            make_entry("src", "ID-1", "PyPI", {"ranges": raw})
        except Exception as exc:  # noqa: BLE001
            assert type(exc) is expected
        else:
            raise AssertionError("make_entry accepted what the OSV parser raises on")
        return
    entry = make_entry("src", "ID-1", "PyPI", {"ranges": raw})
    if how == "ok":
        assert entry.problem is None and entry.ranges == expected
    else:
        assert entry.problem == expected and entry.ranges == ()


def test_stored_entry_takes_the_direct_path() -> None:
    raw = [
        ["ECOSYSTEM", None, [["introduced", "0"], ["fixed", "1.2"]]],
        ["GIT", "r", [["fixed", "abc"]]],
    ]
    built = stored_ranges(raw)
    assert built is not None and built == _osv_path(raw)[1]
    assert built[1].repo == "r"
