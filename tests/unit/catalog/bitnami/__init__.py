"""Tests of dockwatch.catalog.bitnami."""
