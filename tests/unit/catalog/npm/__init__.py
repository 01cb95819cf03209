"""Tests of dockwatch.catalog.npm."""
