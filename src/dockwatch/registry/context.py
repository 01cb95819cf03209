"""What every registry operation needs: the stores, the clock and the tenant."""

from __future__ import annotations

from dataclasses import dataclass

from dockwatch.clock import Clock
from dockwatch.model.identity import Tenant
from dockwatch.storage.blobs.blobstore import BlobStore
from dockwatch.storage.sql import registry_repo as repo
from dockwatch.storage.sql.engine import Database
from dockwatch.storage.sql.registry_repo import RepositoryRow

from .errors import NameUnknown
from .names import check_name


@dataclass(frozen=True, slots=True)
class RegistryContext:
    """Stores, clock and tenant shared by uploads, manifests, tags and gc."""

    db: Database
    blobs: BlobStore
    clock: Clock
    tenant: Tenant
    max_manifest_bytes: int = 4 * 1024 * 1024
    upload_expiry_seconds: int = 86400
    pull_record_seconds: int = 60

    def repository(self, name: str) -> RepositoryRow:
        """The repository `name`; raises NameInvalid or NameUnknown."""
        check_name(name)
        with self.db.read() as conn:
            found = repo.get_repository(conn, self.tenant, name)
        if found is None:
            raise NameUnknown(name)
        return found
