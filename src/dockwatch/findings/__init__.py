"""Findings: one per (image resource, vulnerability), their lifecycle, suppressions, events."""
