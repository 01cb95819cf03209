"""The `dockwatch` command line."""
