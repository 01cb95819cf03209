"""Scanning: registry scanning configuration, scan jobs, coverage and re-scan duration."""
