"""Command line changes land in the data folder's audit log, with the OS user as principal."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from dockwatch.app import build
from dockwatch.audit.log import AuditLog, to_wire
from dockwatch.cli.main import main
from dockwatch.config import Settings


def _events(data: Path) -> list[dict[str, object]]:
    services = build(Settings(data_dir=data))
    try:
        log = AuditLog(services.store, services.tenant, services.clock)
        return [to_wire(r) for r in log.list({}).rows]
    finally:
        services.close()


def test_gc_and_db_import_are_recorded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["gc", "--data", str(data)]) == 0
    empty = tmp_path / "nothing-to-import"
    empty.mkdir()
    assert main(["db", "import", "--data", str(data), str(empty)]) == 2
    events = _events(data)
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("cli db import", "FAILED"),
        ("cli gc", "SUCCEEDED"),
    ]
    assert {e["principal"] for e in events} == {getpass.getuser()}
    assert {e["sourceAddress"] for e in events} == {f"cli@{socket.gethostname()}"}
    assert events[0]["resource"] == str(empty)
