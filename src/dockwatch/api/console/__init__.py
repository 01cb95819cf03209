"""The web console: server-rendered pages over the same services as /api/v1 (no logic of its
own), served at /console/ by `dockwatch serve`. See docs/console.md."""
