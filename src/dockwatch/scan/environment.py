"""What the scanning passes need from the scan service: a narrow interface, so that activation,
expiry and rescans depend on it rather than on `ScanService` (which depends on them)."""

from __future__ import annotations

from typing import Protocol

from dockwatch.clock import Clock
from dockwatch.findings.service import FindingWriter
from dockwatch.match.service import MatchIndex
from dockwatch.model.identity import Tenant
from dockwatch.storage.unit_of_work import Store

from .config import RegistryScanningConfiguration
from .duration import EcrConfiguration


class ScanEnvironment(Protocol):
    """The stores, clock and configuration of one tenant's scanning."""

    @property
    def tenant(self) -> Tenant:
        """Whose images are scanned."""
        ...

    @property
    def store(self) -> Store:
        """Where scan state, inventories and findings live."""
        ...

    @property
    def clock(self) -> Clock:
        """The injected clock."""
        ...

    @property
    def writer(self) -> FindingWriter:
        """Reconciles findings."""
        ...

    @property
    def index(self) -> MatchIndex:
        """The advisory index matching runs against."""
        ...

    @property
    def activation_days(self) -> int:
        """Images pushed within this many days are scanned when enhanced scanning starts."""
        ...

    def settings(self) -> tuple[RegistryScanningConfiguration, EcrConfiguration]:
        """The registry scanning configuration and the re-scan duration."""
        ...

    def catalogers_signature(self) -> str:
        """Names and versions of the catalogers in use."""
        ...
