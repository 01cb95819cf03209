"""`dockwatch accounts create|list|create-access-key|delete-access-key`.

The work lives in `accounts/service.py`; this module parses, prints and picks exit codes: 0
done, 2 an error (an id that is not 12 digits, a duplicate, an unknown account or key), with
one line on stderr. Each change is recorded in the audit log (never a secret).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2


def add_parsers(sub: Any) -> None:
    """The `accounts` command and its subcommands."""
    accounts = sub.add_parser("accounts", help="accounts and their access keys (AWS APIs)")
    acc_sub = accounts.add_subparsers(dest="accounts_command", required=True)

    def data(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data", type=Path, default=None, help="data folder (default: $DOCKWATCH_DATA)"
        )

    create = acc_sub.add_parser("create", help="create an account")
    data(create)
    create.add_argument("--account-id", required=True, help="12 digits")
    create.add_argument("--name", required=True, help="the account's name")
    listing = acc_sub.add_parser("list", help="list accounts and their access keys (no secrets)")
    data(listing)
    key = acc_sub.add_parser(
        "create-access-key", help="create an access key; prints its secret once"
    )
    data(key)
    key.add_argument("--account-id", required=True, help="12 digits")
    key.add_argument("--user", default=None, help="user name (default root)")
    delete = acc_sub.add_parser("delete-access-key", help="delete an access key")
    data(delete)
    delete.add_argument("--account-id", required=True, help="12 digits")
    delete.add_argument("--access-key-id", required=True, help="the key's id (AKIA...)")


def run(args: argparse.Namespace) -> int:
    """Run one subcommand; errors are one line on stderr and exit status 2."""
    from dockwatch.accounts.service import check_account_id
    from dockwatch.app import build
    from dockwatch.cli.audit import record_cli
    from dockwatch.config import from_env
    from dockwatch.errors import DockwatchError

    try:
        if hasattr(args, "account_id"):
            check_account_id(args.account_id)  # before opening anything
        services = build(from_env(data_dir=args.data))
        try:
            svc = services.accounts
            command = args.accounts_command
            if command == "create":
                account = svc.create_account(args.account_id, args.name)
                record_cli(services, "accounts create", account.account_id)
                print(json.dumps({"AccountId": account.account_id, "Name": account.name}))
            elif command == "create-access-key":
                new = svc.create_access_key(args.account_id, args.user)
                record_cli(
                    services,
                    "accounts create-access-key",
                    f"{args.account_id}/{new.key.user_name}/{new.key.access_key_id}",
                )
                print(json.dumps(new.as_iam()))
            elif command == "delete-access-key":
                svc.delete_access_key(args.account_id, args.access_key_id)
                record_cli(
                    services,
                    "accounts delete-access-key",
                    f"{args.account_id}/{args.access_key_id}",
                )
            else:
                print(json.dumps({"Accounts": [_listed(svc, a) for a in svc.list_accounts()]}))
        finally:
            services.close()
    except DockwatchError as exc:
        print(f"dockwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _listed(svc: Any, account: Any) -> dict[str, Any]:
    return {
        "AccountId": account.account_id,
        "Name": account.name,
        "CreateDate": account.created_at.isoformat(),
        "AccessKeys": [
            {
                "UserName": k.user_name,
                "AccessKeyId": k.access_key_id,
                "Status": k.status.value,
                "CreateDate": k.created_at.isoformat(),
            }
            for k in svc.list_access_keys(account.account_id)
        ],
    }
