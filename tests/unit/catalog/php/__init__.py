"""Tests of dockwatch.catalog.php."""
