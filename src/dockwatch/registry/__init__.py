"""OCI distribution semantics over the stores; no HTTP here."""
