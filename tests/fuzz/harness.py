"""One fuzz loop for every target: hypothesis draws raw bytes or mutations of a seed corpus,
for a bounded time, and the target must return or raise its module's typed error family.

Any other exception fails the test with the (shrunk) input that caused it. Memory is checked
as growth of the process's peak RSS over the whole run.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).parent / "corpus"
BATCH = 25
"""Examples per hypothesis run; runs repeat until the time is up."""
MAX_RSS_GROWTH = 768 << 20
"""Peak RSS a fuzz run may add: far above what any bounded parser needs for a small input."""

INTERESTING = (
    b"\x00", b"\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00", b"-1", b"99999999999999999999", b"\n", b"\r\n", b":", b"\"", b"{",
    b"[", b"}", b"]", b"\t", b"\xc3\x28", b"..", b"/",
)  # fmt: skip


def corpus(name: str) -> list[bytes]:
    """The seed files kept under corpus/NAME/ (see corpus/README.md for their origin)."""
    folder = CORPUS / name
    return (
        [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()] if folder.is_dir() else []
    )


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A seed with a few structure-blind edits: bit flips, inserted, deleted, repeated or
    truncated spans, and boundary values (lengths, counts, offsets)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.integers(0, 5))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and data:
            data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == 2:
            del data[pos : pos + draw(st.integers(1, 256))]
        elif op == 3:
            span = bytes(data[pos : pos + draw(st.integers(1, 64))])
            data[pos:pos] = span * draw(st.integers(1, 16))
        elif op == 4:
            del data[pos:]
        else:
            data[pos : pos + draw(st.integers(0, 4))] = draw(st.sampled_from(INTERESTING))
    return bytes(data)


def inputs(seeds: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Raw bytes, or (mostly) mutations of the seeds."""
    raw = st.binary(max_size=2048)
    return st.one_of(raw, mutated(seeds), mutated(seeds), mutated(seeds)) if seeds else raw


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fuzz(
    target: Callable[[bytes], object],
    seeds: Sequence[bytes],
    allowed: tuple[type[BaseException], ...],
    seconds: float,
) -> int:
    """Run `target` over generated inputs for `seconds`; returns the number of examples."""
    for seed in seeds:  # the seeds themselves must pass first
        try:
            target(seed)
        except allowed:
            pass
    count = 0

    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(inputs(seeds))
    def once(data: bytes) -> None:
        nonlocal count
        count += 1
        try:
            target(data)
        except allowed:
            pass

    before = _peak_rss()
    deadline = time.monotonic() + seconds
    while True:
        once()
        if time.monotonic() >= deadline:
            break
    assert _peak_rss() - before < MAX_RSS_GROWTH
    return count
