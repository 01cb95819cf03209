"""Tests of dockwatch.catalog.dotnet."""
