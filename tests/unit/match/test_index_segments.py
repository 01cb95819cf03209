"""The index file's segments: whatever sequence of full writes and appended deltas, reading the
file gives what applying the same changes to a plain dict gives; a segment that does not follow
the state before it is refused; appends stop and the file is rewritten once segments pile up."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from dockwatch.match import index_file
from dockwatch.match.index_file import IndexFileError, Packed, Stamp


def _blob(rng: random.Random, key: str) -> tuple[bytes, int]:
    count = rng.randint(1, 4)
    rows = [["osv:x", f"{key}-{rng.randint(0, 10**6)}", {"n": i}] for i in range(count)]
    return orjson.dumps(rows), count


def _content(packed: Packed) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for key in list(packed.table) + list(packed.loose):
        eco, name = orjson.loads(key)
        blob = packed.blob(eco, name)
        assert blob is not None
        found = packed.loose.get(key)
        count = found[1] if found is not None else packed.table[key][2]
        out[key] = (bytes(blob), count)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_segments_read_back_as_the_changes_applied_to_a_dict(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "match-index.bin"
    keys = [index_file.table_key("PyPI", f"p{n}") for n in range(40)]
    oracle = {k: _blob(rng, k) for k in keys[:25]}
    stamp = Stamp(1, "t1")
    index_file.write(path, stamp, index_file.build(oracle))
    packed = index_file.build(oracle)
    appended = 0
    for version in range(2, 60):
        changes: dict[str, tuple[bytes, int] | None] = {}
        for k in rng.sample(keys, rng.randint(0, 6)):
            changes[k] = None if rng.random() < 0.3 else _blob(rng, k)
        for k, blob in changes.items():
            if blob is None:
                oracle.pop(k, None)
            else:
                oracle[k] = blob
        packed = index_file.pack(packed, changes)
        after, stamp = stamp, Stamp(version, f"t{version}")
        if index_file.append(path, after, stamp, changes):
            appended += 1
        else:  # due for a rewrite: written whole, as a save does
            index_file.write(path, stamp, packed)
        assert _content(packed) == oracle
        held, read = index_file.read(path)
        assert held == stamp
        assert _content(read) == oracle
        assert read.entry_count() == sum(c for _b, c in oracle.values())
    assert appended > index_file.MAX_SEGMENTS  # appends happened, and so did rewrites
    with open(path, "rb") as f:
        segments = index_file._segments_of(f.fileno())
    assert segments is not None and len(segments) <= index_file.MAX_SEGMENTS + 1


def test_an_append_after_another_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "match-index.bin"
    base = {index_file.table_key("Go", "m"): (b'[["osv:x","G-1",{}]]', 1)}
    index_file.write(path, Stamp(3, "c3"), index_file.build(base))
    before = path.read_bytes()
    assert not index_file.append(path, Stamp(2, "c2"), Stamp(4, "c4"), {})
    assert not index_file.append(path, Stamp(3, "other"), Stamp(4, "c4"), {})
    assert path.read_bytes() == before
    assert index_file.append(path, Stamp(3, "c3"), Stamp(4, "c4"), {})
    assert index_file.read(path)[0] == Stamp(4, "c4")


def test_a_segment_that_does_not_follow_the_one_before_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "match-index.bin"
    index_file.write(path, Stamp(3, "c3"), index_file.build({}))
    stray = index_file._segment(Stamp(5, "c5"), Stamp(4, "c4"), {}, b"")
    with open(path, "ab") as f:
        f.write(stray)
    with pytest.raises(IndexFileError, match="does not follow"):
        index_file.read(path)
