"""Tests of dockwatch.catalog.java."""
