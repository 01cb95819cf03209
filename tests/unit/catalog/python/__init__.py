"""Tests of dockwatch.catalog.python."""
