"""Tests of dockwatch.catalog.golang."""
