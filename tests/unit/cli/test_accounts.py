"""`dockwatch accounts ...` as a user runs it: JSON out, one-line errors with exit status 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.cli import dockwatch


def test_accounts_and_keys_from_the_command_line(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    made = dockwatch("accounts", "create", "--data", data, "--account-id", "111111111111",
                     "--name", "dev")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {"AccountId": "111111111111", "Name": "dev"}

    key = dockwatch("accounts", "create-access-key", "--data", data, "--account-id",
                    "111111111111", "--user", "ci")  # fmt: skip
    assert key.returncode == 0, key.stderr
    access = json.loads(key.stdout)["AccessKey"]
    assert {"UserName", "AccessKeyId", "SecretAccessKey", "Status"} <= set(access)
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", access["AccessKeyId"])
    assert len(access["SecretAccessKey"]) == 40 and access["Status"] == "Active"

    listed = json.loads(dockwatch("accounts", "list", "--data", data).stdout)
    dev = next(a for a in listed["Accounts"] if a["AccountId"] == "111111111111")
    assert [k["AccessKeyId"] for k in dev["AccessKeys"]] == [access["AccessKeyId"]]
    assert access["SecretAccessKey"] not in json.dumps(listed)

    gone = dockwatch("accounts", "delete-access-key", "--data", data, "--account-id",
                     "111111111111", "--access-key-id", access["AccessKeyId"])  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    listed = json.loads(dockwatch("accounts", "list", "--data", data).stdout)
    dev = next(a for a in listed["Accounts"] if a["AccountId"] == "111111111111")
    assert dev["AccessKeys"] == []


def test_bad_ids_and_duplicates_exit_2_with_a_message(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad = dockwatch("accounts", "create", "--data", data, "--account-id", "12345", "--name", "x")
    assert bad.returncode == 2 and "12 digits" in bad.stderr and bad.stdout == ""
    first = dockwatch("accounts", "create", "--data", data, "--account-id", "111111111111",
                      "--name", "dev")  # fmt: skip
    assert first.returncode == 0
    dup = dockwatch("accounts", "create", "--data", data, "--account-id", "111111111111",
                    "--name", "dev")  # fmt: skip
    assert dup.returncode == 2 and "exists already" in dup.stderr
    unknown = dockwatch("accounts", "create-access-key", "--data", data, "--account-id",
                        "222222222222")  # fmt: skip
    assert unknown.returncode == 2 and "no account 222222222222" in unknown.stderr


def test_account_and_key_changes_are_audited_without_secrets(tmp_path: Path) -> None:
    from dockwatch.app import build
    from dockwatch.audit.log import AuditLog, to_wire
    from dockwatch.config import Settings

    data = tmp_path / "data"
    assert dockwatch("accounts", "create", "--data", str(data), "--account-id",
                     "111111111111", "--name", "dev").returncode == 0  # fmt: skip
    out = dockwatch("accounts", "create-access-key", "--data", str(data), "--account-id",
                    "111111111111")  # fmt: skip
    access = json.loads(out.stdout)["AccessKey"]
    services = build(Settings(data_dir=data))
    try:
        log = AuditLog(services.store, services.tenant, services.clock)
        events = [to_wire(r) for r in log.list({}).rows]
    finally:
        services.close()
    assert [(e["action"], e["resource"]) for e in events] == [
        ("cli accounts create-access-key", f"111111111111/root/{access['AccessKeyId']}"),
        ("cli accounts create", "111111111111"),
    ]
    assert access["SecretAccessKey"] not in json.dumps(events)
