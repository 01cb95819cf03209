"""Folders of feed files are walked as `os.walk` walks them, and what is not a regular file
(a pipe would block the reader that opens it) is told apart, never opened."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.feeds import osv, redhat
from dockwatch.feeds.feed import ParseProblem
from dockwatch.feeds.folder_walk import NOT_A_FILE, walk_files
from dockwatch.model.advisory import Advisory
from dockwatch.vulndb.osv_feed_records import read_osv_feed
from tests.support.advisories import osv_record


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """Records, folders (a hidden one, a linked one), and every kind of entry that is not a
    regular file: pipes, a socket, a broken link, a link to a pipe."""
    root = tmp_path / "feed"
    for folder in ("b", "a/z", "a/c", ".hidden", "b/d"):
        (root / folder).mkdir(parents=True)
    for n, where in enumerate(("GO-1.json", "a/GO-2.json", "a/c/GO-3.json", "b/d/GO-4.json")):
        (root / where).write_bytes(osv_record(f"GO-2026-{n:04}", "Go", f"m{n}", "1"))
    (root / ".hidden" / "GO-9.json").write_bytes(osv_record("GO-2026-0009", "Go", "h", "1"))
    (root / ".dot.json").write_bytes(b"{}")
    os.mkfifo(root / "a" / "pipe.json")
    os.mkfifo(root / "b" / "zz")
    (root / "b" / "broken.json").symlink_to(root / "nowhere")
    (root / "b" / "to-pipe.json").symlink_to(root / "a" / "pipe.json")
    (root / "b" / "to-record.json").symlink_to(root / "GO-1.json")
    (root / "linked").symlink_to(root / "a", target_is_directory=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "a" / "c" / "sock.json"))
        yield root


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def test_the_walk_is_os_walks_with_what_is_not_a_file_apart(tree: Path) -> None:
    expected = []
    for path, dirs, names in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        shown = sorted(n for n in names if not n.startswith("."))
        regular = [n for n in shown if _regular(os.path.join(path, n))]
        expected.append((path, regular, [n for n in shown if n not in regular]))
    walked = [(f.path, f.files, f.others) for f in walk_files(tree)]
    assert walked == expected
    others = {os.path.join(path, n) for path, _, names in walked for n in names}
    assert {os.path.relpath(o, tree) for o in others} == {
        "a/pipe.json",
        "a/c/sock.json",
        "b/zz",
        "b/broken.json",
        "b/to-pipe.json",
    }


def test_readers_of_folders_report_what_is_not_a_file(tree: Path) -> None:
    items = list(osv.iter_path(tree, "osv"))
    ids = sorted(i.id for i in items if isinstance(i, Advisory))
    assert ids == ["GO-2026-0000", "GO-2026-0001", "GO-2026-0002", "GO-2026-0003"]
    problems = {os.path.relpath(p.where, tree) for p in items if isinstance(p, ParseProblem)}
    assert problems == {"a/pipe.json", "a/c/sock.json", "b/zz", "b/broken.json", "b/to-pipe.json"}
    assert all(p.reason == NOT_A_FILE for p in items if isinstance(p, ParseProblem))

    read = read_osv_feed([tree], "osv:Go", osv.Limits(), workers=1)
    assert sorted(r.id for r in read if not isinstance(r, ParseProblem)) == ids
    assert {os.path.relpath(p.where, tree) for p in read if isinstance(p, ParseProblem)} == problems

    vex = [i for i in redhat.parse_path(tree) if isinstance(i, ParseProblem)]
    not_files = {os.path.relpath(p.where, tree) for p in vex if p.reason == NOT_A_FILE}
    assert not_files == {"a/pipe.json", "a/c/sock.json", "b/broken.json", "b/to-pipe.json"}
