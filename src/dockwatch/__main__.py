"""`python -m dockwatch` runs the command-line interface."""

from dockwatch.cli.main import main

raise SystemExit(main())
