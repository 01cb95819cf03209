"""Tests of dockwatch.catalog.rust."""
