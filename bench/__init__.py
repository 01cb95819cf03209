"""Benchmarks: each compares dockwatch with its peer, measured in the same run."""
