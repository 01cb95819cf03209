"""Batch rows of the outbox: a run of finding events of one write stored in one row.

A rescan writes one finding event per finding it changes: 13,500 for a 1,000-advisory update at
2,000 images, about 500,000 at 100,000. One row each cost an indexed insert and ~0.9 kB per
event; a batch row holds up to `MAX_EVENTS` consecutive finding events of one tenant and one
time, its lines compressed together (zstd: the payloads of one write share their keys,
repository names, digests and times), and costs one insert.

A batch row owns the id range `(id - events, id]`: every event keeps its own integer id, ids
follow the append order, and a reader's cursor may stop inside a batch and resume at the next
event. Keying the row by the last id of its range keeps `id > cursor` the condition that finds
every row holding an unread event, `max(id)` the newest event id, and a copied database's
sequence (set to `max(id)`) past every event.

A line is one event's type, subject and payload values in JSON (`line`), lines are split on
newlines: a reader decodes only the events after its cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import zstandard

from dockwatch.model.event_payload import payload_fields, wire_name
from dockwatch.model.events import (
    FINDING_EVENTS,
    Event,
    FindingChanged,
    FindingClosed,
    FindingCreated,
    FindingUpdated,
)

BATCHED_TYPES = frozenset(FINDING_EVENTS)
"""The event types a batch row may hold: those a findings write emits by the thousand."""

FINDING_WIRE = (
    "findingId", "detailRef", "vulnerabilityId", "status", "severity", "fixAvailable",
    "firstObservedAt", "lastObservedAt", "updatedAt", "repositoryName", "imageDigest",
    "imageTags", "pushedAt", "changes",
)  # fmt: skip
"""The payload keys of a finding event, in the order a batch line holds their values."""
for _kind in (FindingCreated, FindingUpdated, FindingClosed):
    assert tuple(wire_name(f) for f in payload_fields(_kind)) == FINDING_WIRE, (
        f"{_kind.__name__}'s fields moved: update FINDING_WIRE and line()"
    )

MIXED = "Finding*"
"""`event_type` of a batch row holding more than one of `BATCHED_TYPES` (a row of one type
names it, so the (event_type, id) index still finds it)."""

MIN_EVENTS = 2
MAX_EVENTS = 1_000
"""Events per batch row at most: a reader resuming inside a batch unpacks the whole row
(1,000 finding events: ~0.8 MB of lines, ~1 ms to decompress)."""

LEVEL = 3


def runs(events: Sequence[Event]) -> Iterator[tuple[int, int]]:
    """The (start, stop) slices of `events` in append order, one per stored row: consecutive
    finding events of one tenant and time, `MIN_EVENTS` to `MAX_EVENTS` of them, share a row;
    every other event has its own."""
    i, n = 0, len(events)
    while i < n:
        first = events[i]
        j = i + 1
        if batched(first):
            tenant, at = first.tenant, first.at
            while j < n and j - i < MAX_EVENTS:
                e = events[j]
                # a write's events share its tenant and time objects: `is` before `==`
                if not (
                    batched(e)
                    and (e.tenant is tenant or e.tenant == tenant)
                    and (e.at is at or e.at == at)
                ):
                    break
                j += 1
            if j - i < MIN_EVENTS:
                j = i + 1
        yield i, j
        i = j


def batched(event: Event) -> bool:
    """Whether `event` may share a batch row."""
    return isinstance(event, FindingChanged) and event.name in BATCHED_TYPES


def lines(run: Sequence[Event]) -> list[bytes]:
    """The lines of a batch row holding `run` (events `batched` says may share one)."""
    out = []
    for event in run:
        if not isinstance(event, FindingChanged):
            raise TypeError(f"a {event.name} event has no batch line")
        out.append(line(event))
    return out


def row_type(types: Sequence[str]) -> str:
    """The `event_type` column of a batch row holding events of these types."""
    return types[0] if len(set(types)) == 1 else MIXED


def stored_types(types: Sequence[str]) -> list[str]:
    """The `event_type` values of the rows that may hold events of `types`."""
    out = list(types)
    if BATCHED_TYPES.intersection(types):
        out.append(MIXED)
    return out


def line(event: FindingChanged) -> bytes:
    """One event of a batch: `["type","subject",[values]]`, the values of the payload in
    `FINDING_WIRE` order (orjson writes the times; a line never holds a raw newline). 0.6 us an
    event where the keyed payload through `json.dumps` took 4.5 us."""
    return orjson.dumps(
        [
            event.name,
            event.subject,
            [
                event.finding_id, event.detail_ref, event.vulnerability_id, event.status,
                event.severity, event.fix_available, event.first_observed_at,
                event.last_observed_at, event.updated_at, event.repository_name,
                event.image_digest, event.image_tags, event.pushed_at, event.changes,
            ],
        ]
    )  # fmt: skip


def pack(lines: Sequence[bytes]) -> bytes:
    """The stored bytes of a batch row's lines, in id order."""
    return zstandard.ZstdCompressor(level=LEVEL).compress(b"\n".join(lines))


def unpack(packed: bytes) -> list[bytes]:
    """The lines of a batch row, in id order."""
    return zstandard.ZstdDecompressor().decompress(bytes(packed)).split(b"\n")


def parse(text: bytes) -> tuple[str, str, dict[str, Any]]:
    """(event type, subject, payload) of one line: the payload as a single row holds it."""
    event_type, subject, values = orjson.loads(text)
    doc = dict(zip(FINDING_WIRE, values, strict=True))
    if not doc["changes"]:
        del doc["changes"]  # omitted when empty, as the event's own payload does
    return str(event_type), str(subject), doc
