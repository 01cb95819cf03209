"""`python -m dockwatch` runs the command-line interface."""

from dockwatch.cli.entry import run

run()
