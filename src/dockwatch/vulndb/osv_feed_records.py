"""What `db sync` stores of an OSV feed's download, read on every core.

osv.dev publishes each ecosystem as one `all.zip`, which changes every day, so each sync
reads the whole archive again. Read record by record into the model and stored from it, the
shared snapshot's four ecosystems as osv.dev archives (18,011 records) took 3.7 s to sync
from a local server; their members are now parsed by the import's parsing processes straight
into their stored form (`parallel.parse_units`), as `db import` parses a folder of records:
2.2-2.4 s. The records are what the feed's own `parse` reads, stored as `VulnDb.apply` stores
them: the same ids, contents and problems, each duplicate id dropped the same way (the first
copy kept).
"""

from __future__ import annotations

import itertools
import os
import zipfile
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TypeGuard

from dockwatch.feeds import osv
from dockwatch.feeds.feed import Feed, ParseProblem
from dockwatch.feeds.folder_walk import NOT_A_FILE, walk_files
from dockwatch.feeds.osv_feed import OsvFeed, undamaged
from dockwatch.feeds.suse import OpenSuseFeed, SuseFeed
from dockwatch.feeds.ubuntu import UbuntuFeed
from dockwatch.storage.vuln_repo import EncodedAdvisory, KnownRecord

from . import archive_members, parallel

ARCHIVE_FEEDS = (OsvFeed, UbuntuFeed, SuseFeed, OpenSuseFeed)
"""The feeds whose `parse` is `osv.iter_path` over their download, then (Ubuntu, SUSE) their
normalization, which `parallel.encode_for` applies too: read here instead."""


def reads_archives(feed: Feed) -> TypeGuard[OsvFeed]:
    """True for a feed `read_osv_feed` reads."""
    return type(feed) in ARCHIVE_FEEDS


def _units(path: Path, source: str, problems: list[ParseProblem]) -> list[parallel.Unit]:
    """The record files and archive members under `path`, in the order `osv.iter_path`
    reads them; archives that cannot be read are told in `problems`."""
    if path.is_dir():
        files: list[str] = []
        for folder in walk_files(path):
            files += [os.path.join(folder.path, n) for n in folder.files]
            others = (os.path.join(folder.path, n) for n in folder.others)
            problems += [ParseProblem(source, where, NOT_A_FILE) for where in others]
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        files = [str(path)]
    else:
        return [str(path)]
    units: list[parallel.Unit] = []
    for name in files:
        if name == str(path) or name.lower().endswith(".zip"):
            listed = archive_members.members(name, source)
            if isinstance(listed, ParseProblem):
                problems.append(listed)
            else:
                units += listed
        else:
            units.append(name)
    return units


FeedRecord = EncodedAdvisory | KnownRecord | ParseProblem
"""A feed's record in its stored form, one found stored from the same bytes, or a problem."""


def read_osv_feed(
    paths: Iterable[Path], source: str, limits: osv.Limits, workers: int | None = None
) -> list[FeedRecord]:
    """`iter_osv_feed`, all of it, nothing known."""
    return list(iter_osv_feed(paths, source, limits, workers))


def iter_osv_feed(
    paths: Iterable[Path],
    source: str,
    limits: osv.Limits,
    workers: int | None = None,
    known: parallel.Known | None = None,
) -> Generator[FeedRecord, None, None]:
    """Every record under `paths` (a feed's downloaded files) in its stored form, or as a
    `KnownRecord` when its bytes are `known` (stored before: not read again), and every
    problem, for the feed named `source`. Raises `FeedFormatError` at the first archive that
    cannot be read whole (`ParseProblem.damaged`): the download's verification checks an
    archive's structure only, and its members are checked here, as they are read, rather than
    inflated twice (the verification's inflation took 0.62-0.69 CPU-s for the shared snapshot's
    four archives, against 2.9-3.5 for their parse)."""
    problems: list[ParseProblem] = []
    units = [u for p in paths for u in _units(p, source, problems)]
    listed = [undamaged(p) for p in problems]
    seen: osv.Seen = {}
    parsed_files = parallel.parse_units(units, limits, workers, source=source, known=known)
    try:
        # the parsing processes started (their first file read) before the first item is
        # handed out: a caller may write what it read before while they go on
        first = next(parsed_files, None)
        yield from listed
        for parsed in itertools.chain([] if first is None else [first], parsed_files):
            for item in parallel.first_copies(parsed, seen, source):
                if isinstance(item, ParseProblem):
                    yield undamaged(item)
                elif item.advisory is not None:
                    yield item.advisory
    finally:
        parsed_files.close()  # the parsing processes stopped, should the caller stop early
