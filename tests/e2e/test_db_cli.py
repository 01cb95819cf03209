"""`dockwatch db import|sync|status|export` as a user runs them."""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.storage.vuln_repo import unpack_content
from tests.support.cli import dockwatch
from tests.support.corpus import SHARED

VULNDATA = SHARED / "vulndata"


def _record(i: int, fixed: str = "2.0") -> dict[str, object]:
    return {
        "id": f"GHSA-test-{i:04d}",
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": f"pkg{i}"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def test_import_status_export_round_trip(tmp_path: Path) -> None:
    if not VULNDATA.exists():
        pytest.skip(f"{VULNDATA} is absent (a fresh clone without ../shared)")
    data = tmp_path / "data"
    out = dockwatch("db", "import", "--data", str(data), str(VULNDATA))
    assert out.returncode == 0, out.stderr
    status = json.loads(dockwatch("db", "status", "--json", "--data", str(data)).stdout)
    by_name = {s["name"]: s for s in status["sources"]}
    # the expected counts come from the files themselves: one OSV record per JSON/YAML file with an id
    assert set(by_name) == {
        "osv:PyPI",
        "osv:Go",
        "osv:crates.io",
        "osv:Bitnami",
        "osv:AlmaLinux",
        "kev",
    }
    kev = json.loads(
        (VULNDATA / "cisagov-kev-data" / "known_exploited_vulnerabilities.json").read_text()
    )
    assert by_name["kev"]["advisories"] == len(kev["vulnerabilities"])
    go_ids = {
        json.loads(p.read_text())["id"]
        for p in (VULNDATA / "golang-vulndb").rglob("*.json")
        if p.name.startswith("GO-")
    }
    assert by_name["osv:Go"]["advisories"] == len(go_ids)
    assert status["advisories"] == sum(
        s["advisories"] for s in status["sources"] if s["kind"] == "vulnerability"
    )
    assert status["version"] >= 6
    # importing again changes nothing
    again = dockwatch("db", "import", "--data", str(data), str(VULNDATA / "golang-vulndb"))
    assert "0 added, 0 modified, 0 withdrawn" in again.stdout and "no change" in again.stdout
    # an offline bundle carries everything to another data folder, and back without a delta
    bundle = tmp_path / "offline.dwdb"
    assert dockwatch("db", "export", "--data", str(data), str(bundle)).returncode == 0
    other = tmp_path / "airgapped"
    assert dockwatch("db", "import", "--data", str(other), str(bundle)).returncode == 0
    moved = json.loads(dockwatch("db", "status", "--json", "--data", str(other)).stdout)
    assert {s["name"]: s["advisories"] for s in moved["sources"]} == {
        n: s["advisories"] for n, s in by_name.items()
    }
    back = dockwatch("db", "import", "--data", str(data), str(bundle))
    assert back.stdout.count("(no change)") == len(by_name)


def test_malformed_records_are_skipped_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(_record(1)))
    (folder / "broken.json").write_text('{"id": "GHSA-broken", "affected": [')
    (folder / "wrongtypes.json").write_text(json.dumps({"id": 5, "affected": "no"}))
    (folder / "LICENSE").write_text("licence text")
    out = dockwatch("db", "import", "--data", str(tmp_path / "d"), str(folder))
    assert out.returncode == 0, out.stderr
    assert "osv:PyPI: 1 added" in out.stdout
    assert "skipped 2 malformed records" in out.stdout


@pytest.mark.parametrize("records", [2, 1_200])  # in process, and by the parsing processes
def test_pipes_in_a_folder_are_listed_not_opened(tmp_path: Path, records: int) -> None:
    """A named pipe blocks whoever opens it until something writes: the import used to hang
    on one. Pipes, links to them and broken links are named as not read."""
    folder = tmp_path / "osv"
    folder.mkdir()
    for i in range(records):
        (folder / f"r{i:05}.json").write_text(json.dumps(_record(i)))
    os.mkfifo(folder / "zz.json")
    os.mkfifo(folder / "notes")
    (folder / "to-pipe.json").symlink_to(folder / "zz.json")
    (folder / "broken.json").symlink_to(folder / "absent.json")
    out = dockwatch("db", "import", "--data", str(tmp_path / "d"), str(folder), timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"osv:PyPI: {records} added" in out.stdout
    assert "not read: 4 entries that are not regular files" in out.stdout


def test_import_of_nothing_recognised(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    out = dockwatch("db", "import", "--data", str(tmp_path / "d"), str(tmp_path / "notes.txt"))
    assert out.returncode == 2
    missing = dockwatch("db", "import", "--data", str(tmp_path / "d"), str(tmp_path / "absent"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


class _Upstream(http.server.BaseHTTPRequestHandler):
    """osv.dev's bucket on loopback: all.zip with an ETag; a switch to cut a download short."""

    body = b""
    etag = '"v1"'
    truncate = False
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).requests.append(self.headers.get("If-None-Match") or "")
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2] if self.truncate else self.body)

    def log_message(self, *args: object) -> None:
        pass


def _zip(records: list[dict[str, object]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for r in records:
            z.writestr(f"{r['id']}.json", json.dumps(r))
    return buf.getvalue()


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/PyPI/all.zip"
    server.shutdown()


def test_sync_is_conditional_and_atomic(tmp_path: Path, upstream: str) -> None:
    env = {"DOCKWATCH_FEED_URLS": f"osv:PyPI={upstream}"}
    data = str(tmp_path / "d")
    _Upstream.body, _Upstream.etag, _Upstream.truncate = (
        _zip([_record(1), _record(2)]),
        '"v1"',
        False,
    )
    first = dockwatch("db", "sync", "--feed", "osv:PyPI", "--data", data, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "osv:PyPI: updated" in first.stdout
    second = dockwatch("db", "sync", "--feed", "osv:PyPI", "--data", data, env=env)
    assert "osv:PyPI: unchanged" in second.stdout
    assert _Upstream.requests[-1] == '"v1"'  # the stored ETag was sent, upstream answered 304
    # a download cut off mid-body fails and leaves the database as it was
    _Upstream.body, _Upstream.etag, _Upstream.truncate = (
        _zip([_record(1, "3.0"), _record(3)]),
        '"v2"',
        True,
    )
    cut = dockwatch("db", "sync", "--feed", "osv:PyPI", "--data", data, env=env)
    assert cut.returncode == 2 and "osv:PyPI: failed" in cut.stdout
    status = json.loads(dockwatch("db", "status", "--json", "--data", data).stdout)
    (source,) = status["sources"]
    assert source["advisories"] == 2 and source["lastError"]
    # the complete new snapshot: one modified, one added, one gone (withdrawn)
    _Upstream.truncate = False
    third = dockwatch("db", "sync", "--feed", "osv:PyPI", "--data", data, env=env)
    assert "osv:PyPI: updated" in third.stdout
    import sqlite3

    db = sqlite3.connect(f"file:{tmp_path / 'd' / 'dockwatch.db'}?mode=ro", uri=True)
    payload = json.loads(
        db.execute(
            "SELECT payload FROM outbox WHERE event_type='AdvisoriesChanged' ORDER BY id DESC LIMIT 1"
        ).fetchone()[0]
    )
    assert (payload["added"], payload["modified"], payload["withdrawn"]) == (
        ["GHSA-test-0003"],
        ["GHSA-test-0001"],
        ["GHSA-test-0002"],
    )
    assert sorted(map(tuple, payload["packageKeys"])) == [
        ("PyPI", "pkg1"),
        ("PyPI", "pkg2"),
        ("PyPI", "pkg3"),
    ]


def test_pushes_keep_working_during_an_import(tmp_path: Path) -> None:
    """`db import` into a running server's data folder holds no long write lock."""
    if not VULNDATA.exists():
        pytest.skip(f"{VULNDATA} is absent (a fresh clone without ../shared)")
    from tests.conformance.oci import push_image
    from tests.support.servers import start_dockwatch

    server = start_dockwatch(tmp_path / "data")
    try:
        importer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dockwatch",
                "--log-level",
                "WARNING",
                "db",
                "import",
                "--data",
                str(server.data),
                str(VULNDATA),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        pushed = 0
        with server.client(timeout=30) as c:
            while importer.poll() is None and pushed < 200:
                push_image(c, "during/import", f"t{pushed}", seed=str(pushed))
                pushed += 1
        out, err = importer.communicate(timeout=600)
        assert importer.returncode == 0, err
        assert pushed >= 5, "the import finished before pushes could overlap it"
        with server.client() as c:
            assert len(c.get("/v2/during/import/tags/list").json()["tags"]) == pushed
    finally:
        server.stop()


def _write_records(folder: Path, records: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True)
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    return folder


def _state(data: Path) -> tuple[int, int, dict[str, str]]:
    """(database version, advisories, id -> fixed version) as `db status` and the rows say."""
    import sqlite3

    status = json.loads(dockwatch("db", "status", "--json", "--data", str(data)).stdout)
    db = sqlite3.connect(f"file:{data / 'dockwatch.db'}?mode=ro", uri=True)
    try:
        fixed = {  # the two sets differ only in the fixed version, 2.0 or 3.0
            aid: "3.0" if b'"3.0"' in unpack_content(bytes(content)) else "2.0"
            for aid, content in db.execute("SELECT id, content FROM vuln_advisories")
        }
        changes = db.execute(
            "SELECT version, COUNT(*) FROM vuln_changes GROUP BY version ORDER BY version"
        ).fetchall()
        affected = db.execute("SELECT COUNT(DISTINCT advisory_id) FROM vuln_affected").fetchone()
    finally:
        db.close()
    assert affected == (len(fixed),)  # every advisory has its affected rows, and no orphans
    version = int(status["version"])
    # the delta of every stored version is complete: 3,000 added, then 3,000 + 3,000
    assert changes == [(1, 3000), (2, 6000)][:version]
    assert status["advisories"] == len(fixed)
    return version, status["advisories"], fixed


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line holds `text` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_killed_import_leaves_the_old_or_the_new_database(tmp_path: Path) -> None:
    """SIGKILL at several points of a large `db import`: afterwards `db status` shows the old
    version or the new one, never half of it, and running the import again completes it."""
    import shutil
    import signal
    import time

    old = [_record(i, fixed="2.0") for i in range(3000)]
    new = [_record(i, fixed="3.0") for i in range(6000)]  # 3,000 modified, 3,000 added
    base = tmp_path / "base"
    assert dockwatch("db", "import", "--data", str(base), str(
        _write_records(tmp_path / "old", old))).returncode == 0  # fmt: skip
    newer = _write_records(tmp_path / "new", new)
    want_old = {str(r["id"]): "2.0" for r in old}
    want_new = {str(r["id"]): "3.0" for r in new}
    assert _state(base) == (1, 3000, want_old)

    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    started = time.monotonic()
    assert dockwatch("db", "import", "--data", str(reference), str(newer)).returncode == 0
    full = time.monotonic() - started
    assert _state(reference) == (2, 6000, want_new)

    seen = set()
    for n, fraction in enumerate((0.2, 0.5, 0.8, 0.95)):
        data = tmp_path / f"killed-{n}"
        shutil.copytree(base, data)
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockwatch", "--log-level", "WARNING", "db", "import",
             "--data", str(data), str(newer)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            proc.wait(timeout=full * fraction)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        # its parsing processes (forked: the same command line) end with it
        deadline = time.monotonic() + 10
        while _processes_naming(str(data)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_naming(str(data)) == [], n
        state = _state(data)
        assert state in ((1, 3000, want_old), (2, 6000, want_new)), n
        seen.add(state[0])
        again = dockwatch("db", "import", "--data", str(data), str(newer))
        assert again.returncode == 0, again.stderr
        assert _state(data) == (2, 6000, want_new)
        expected = "0 added, 0 modified" if state[0] == 2 else "3000 added, 3000 modified"
        assert expected in again.stdout
    assert 1 in seen  # at least one kill landed before the commit
