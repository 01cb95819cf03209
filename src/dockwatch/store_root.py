"""The composition root of the database alone: settings in, a migrated store out.

`app.build` starts from it and wires the registry, scanner and webhooks on top; commands that
need the database and nothing else (`dockwatch db ...`, `dockwatch migrate`) call it directly,
so that they do not import the rest: `dockwatch db status` 0.60-0.65 -> 0.39-0.41 s (0.45 s
was importing `dockwatch.app`; tests/unit/cli/test_startup.py keeps them apart).
"""

from __future__ import annotations

from dockwatch.clock import Clock, ControlledClock, SystemClock
from dockwatch.config import Settings
from dockwatch.errors import InvalidInput
from dockwatch.model.identity import Tenant
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.migrations import migrate, require_current
from dockwatch.storage.sql.unit_of_work import SqlStore
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen


@frozen
class StoreServices:
    """The database of one data folder, its store, clock and default tenant."""

    settings: Settings
    clock: Clock
    db: Database
    store: Store
    tenant: Tenant

    def close(self) -> None:
        """Release the database's connections."""
        self.db.close()


def _checked(settings: Settings) -> None:
    """Refuse invalid settings; create the data folder."""
    errors = settings.validate()
    if errors:
        raise InvalidInput("; ".join(errors))
    settings.data_dir.mkdir(parents=True, exist_ok=True)


def open_store(settings: Settings, clock: Clock | None = None) -> StoreServices:
    """Create (or open) the data folder and its database, migrated (or checked current when
    `migrate_at_start` is off)."""
    _checked(settings)
    if clock is None:
        clock = ControlledClock() if settings.test_mode else SystemClock()
    db = Database(settings.effective_database_url)
    try:
        if settings.migrate_at_start:
            migrate(db)
        else:
            require_current(db)  # one clear error rather than a failure at the first query
    except BaseException:
        db.close()
        raise
    tenant = Tenant(settings.account_id, settings.region)
    return StoreServices(settings, clock, db, SqlStore(db), tenant)


def migrate_database(settings: Settings) -> str:
    """Bring the database up to the current schema (`dockwatch migrate`); returns its URL
    without the password, for messages."""
    _checked(settings)
    db = Database(settings.effective_database_url)
    try:
        migrate(db)
    finally:
        db.close()
    return str(db.engine.url.render_as_string(hide_password=True))
