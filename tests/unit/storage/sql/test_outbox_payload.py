"""The outbox's own encoding of finding events writes exactly what the generic event codec
(`Event.payload`) writes, and reads back as the same event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from dockwatch.model.events import FindingClosed, FindingCreated, FindingUpdated, decode
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import outbox_batches
from dockwatch.storage.sql.outbox import payload_json

_text = st.text(max_size=12)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from((UTC, timezone(timedelta(hours=2)))),
)  # fmt: skip
_events = st.builds(
    lambda kind, *values: kind(Tenant("123456789012", "eu-west-1"), *values),
    st.sampled_from((FindingCreated, FindingUpdated, FindingClosed)),
    _times, _text, _text, _text, st.sampled_from(("ACTIVE", "SUPPRESSED", "CLOSED")), _text,
    _text, _times, _times, _times, _text, _text, st.tuples(_text) | st.just(()),
    st.none() | _times, st.lists(_text, max_size=3).map(tuple),
)  # fmt: skip


@given(_events)
def test_finding_payload_equals_the_generic_codec(event: FindingCreated) -> None:
    generic = json.dumps(event.payload(), sort_keys=True, separators=(",", ":"))
    assert payload_json(event) == generic
    back = decode(event.name, event.tenant, event.at, event.subject, json.loads(generic))
    assert back == event


@given(_events)
def test_a_batch_line_holds_the_payload_a_single_row_holds(event: FindingCreated) -> None:
    event_type, subject, doc = outbox_batches.parse(outbox_batches.line(event))
    assert (event_type, subject) == (event.name, event.subject)
    assert doc == json.loads(payload_json(event))
    assert decode(event_type, event.tenant, event.at, subject, doc) == event
