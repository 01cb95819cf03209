"""Command line changes in the audit log: the OS user is the principal."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dockwatch.audit.log import AuditLog, cli_entry

if TYPE_CHECKING:  # `dockwatch db` records without importing the services it does not build
    from dockwatch.app import Services
    from dockwatch.store_root import StoreServices

logger = logging.getLogger(__name__)


def record_cli(
    services: Services | StoreServices, command: str, resource: str, ok: bool = True
) -> None:
    """Record one command's change (or its failure) in the data folder's audit log."""
    log = AuditLog(services.store, services.tenant, services.clock)
    entry = cli_entry(command, resource, 200 if ok else 500, services.clock.now())
    try:
        log.record(entry)
    except Exception:  # the change is done; a lost entry is logged loudly
        logger.exception("could not record an audit entry: %s", entry)
