"""Tests of dockwatch.catalog.ruby."""
