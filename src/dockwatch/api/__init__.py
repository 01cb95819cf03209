"""HTTP adapters: the OCI distribution API, the JSON API, operations endpoints."""
