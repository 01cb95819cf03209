"""What every registry operation needs: the stores, the clock and the tenant."""

from __future__ import annotations

from dockwatch.clock import Clock
from dockwatch.model.identity import Tenant
from dockwatch.storage.blobs.blobstore import BlobStore
from dockwatch.storage.registry_repo import RepositoryRow
from dockwatch.storage.unit_of_work import Store
from dockwatch.value_class import frozen

from .errors import NameUnknown
from .names import check_name


@frozen
class RegistryContext:
    """Stores, clock and tenant shared by uploads, manifests, tags and gc."""

    store: Store
    blobs: BlobStore
    clock: Clock
    tenant: Tenant
    max_manifest_bytes: int = 4 * 1024 * 1024
    upload_expiry_seconds: int = 86400
    pull_record_seconds: int = 60

    def repository(self, name: str) -> RepositoryRow:
        """The repository `name`; raises NameInvalid or NameUnknown."""
        check_name(name)
        with self.store.read() as uow:
            found = uow.registry.get_repository(self.tenant, name)
        if found is None:
            raise NameUnknown(name)
        return found
