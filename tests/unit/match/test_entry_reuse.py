"""A patched index keeps the entries (and verdicts) a delta did not change: its verdicts after
random update sequences equal those of an index built from the database afresh."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime
from pathlib import Path

from dockwatch.clock import ControlledClock
from dockwatch.match.service import MatchIndex
from dockwatch.model.advisory import (
    Advisory,
    AdvisoryID,
    Affected,
    AffectedStatus,
    Event,
    EventKind,
    Range,
    RangeType,
)
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.vulndb.service import VulnDb

NAMES = ("alpha", "beta", "gamma")
VERSIONS = ("0.9", "1.0", "1.0.0", "1.1", "1.2rc1", "1.2", "2.0", "2.0.post1", "3.0", "bad!")


def _affected(rng: random.Random, name: str) -> Affected:
    lo, hi = sorted(rng.sample(["0.5", "1.0", "1.1", "1.2", "2.0", "2.5"], 2))
    events = [Event(EventKind.INTRODUCED, rng.choice(["0", lo])), Event(EventKind.FIXED, hi)]
    listed = tuple(rng.sample(["1.0", "1.1.0", "2.0", "0.3m4"], rng.randint(0, 2)))
    status = rng.choice([AffectedStatus.AFFECTED] * 4 + [AffectedStatus.NOT_AFFECTED])
    return Affected(
        "PyPI",
        name,
        ranges=(Range(RangeType.ECOSYSTEM, tuple(events)),),
        versions=listed,
        status=status,
    )


def _advisory(rng: random.Random, n: int) -> Advisory:
    names = rng.sample(NAMES, rng.randint(1, 2))
    return Advisory(
        id=AdvisoryID(f"TEST-{n:04d}"),
        source="osv:PyPI",
        summary=f"advisory {n}",
        affected=tuple(_affected(rng, name) for name in names),
    )


def _verdicts(index: MatchIndex) -> dict[tuple[str, str], list[tuple[str, str, object]]]:
    index.refresh()
    return {
        (name, version): [
            (e.source, e.advisory_id, verdict)
            for e, verdict in index.verdicts("PyPI", name, version)
        ]
        for name in NAMES
        for version in VERSIONS
    }


def test_patched_index_equals_a_fresh_one_over_random_updates(tmp_path: Path) -> None:
    rng = random.Random(15)
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    vdb = VulnDb(store, ControlledClock())
    live = {n: _advisory(rng, n) for n in range(12)}
    vdb.apply("osv:PyPI", live.values(), complete=True)
    patched = MatchIndex(store)
    _verdicts(patched)  # every key prepared and evaluated, as a running server has them
    reused = 0
    for step in range(12):
        for n in rng.sample(sorted(live), 3):
            roll = rng.random()
            if roll < 0.4:  # metadata only: the entries stay as they were
                live[n] = dataclasses.replace(live[n], summary=f"revised {step}")
            elif roll < 0.8:
                live[n] = _advisory(rng, n)
            else:
                del live[n]
        if rng.random() < 0.5:
            n = max(live, default=0) + 1 + step
            live[n] = _advisory(rng, n)
        before = {id(e) for name in NAMES for e in patched._prepared(patched._state, "PyPI", name)}
        vdb.apply("osv:PyPI", live.values(), complete=True)
        fresh = MatchIndex(store)
        assert _verdicts(patched) == _verdicts(fresh), step
        after = [e for name in NAMES for e in patched._prepared(patched._state, "PyPI", name)]
        reused += sum(id(e) in before for e in after)
    assert reused > 0  # the sequence did exercise the reuse


def test_metadata_only_change_reuses_entries_and_verdicts(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    migrate(db)
    store = SqlStore(db)
    vdb = VulnDb(store, ControlledClock())
    rng = random.Random(3)
    advisories = [_advisory(rng, n) for n in range(4)]
    vdb.apply("osv:PyPI", advisories)
    index = MatchIndex(store)
    first = _verdicts(index)
    entries = {name: list(index._prepared(index._state, "PyPI", name)) for name in NAMES}
    vdb.apply(
        "osv:PyPI",
        [dataclasses.replace(advisories[0], summary="revised", modified=datetime(2026, 1, 1))],
    )
    assert _verdicts(index) == first
    for name in NAMES:
        again = index._prepared(index._state, "PyPI", name)
        assert [id(e) for e in again] == [id(e) for e in entries[name]]
