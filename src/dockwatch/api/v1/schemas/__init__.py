"""Every /api/v1 operation's contract, by (method, route path): the one registry the OpenAPI
document reads. An operation is added to the document by declaring its contract in the module of
its area (or a new module listed here); a test fails for any route that declares none."""

from __future__ import annotations

from ..openapi import Contract
from . import findings, policies, registry, webhooks

CONTRACTS: dict[tuple[str, str], Contract] = {
    **registry.CONTRACTS,
    **findings.CONTRACTS,
    **webhooks.CONTRACTS,
    **policies.CONTRACTS,
}
