"""Tables of accounts (12-digit ids) and their access keys (SigV4 credentials).

An access key's secret is stored sealed (`secret_sealed`: AES-GCM with a key kept outside the
database), never in plain: SigV4 needs the secret itself to recompute a signature, so a hash
would not do.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from dockwatch.storage.sql.schema.base import UTC_TIMESTAMP, metadata

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("created_at", UTC_TIMESTAMP, nullable=False),
)


access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("secret_sealed", Text, nullable=False),
    Column("status", String(16), nullable=False),  # Active | Inactive
    Column("created_at", UTC_TIMESTAMP, nullable=False),
    Index("ix_access_keys_account", "account_id", "user_name"),
)
