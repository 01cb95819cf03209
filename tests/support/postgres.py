"""A real PostgreSQL for tests: Debian's server binaries, a throwaway cluster, no service manager.

`PostgresCluster.start()` runs `initdb` and `pg_ctl` from `/usr/lib/postgresql/<version>/bin`
(Debian package `postgresql`) in a fresh temporary folder, listening on 127.0.0.1 on a free port
with its Unix socket in that folder too. PostgreSQL refuses to run as root, so under root the
cluster belongs to an unprivileged user: the `postgres` account the Debian package creates, else
`nobody`, and every server command runs through `runuser -u USER`. Authentication is `trust` on
loopback only; the superuser is `dockwatch`.

Under pytest-xdist each worker process starts its own cluster (the session fixture in
`tests/conftest.py` runs once per process): a cluster starts in about two seconds, and separate
clusters need no cross-process coordination or shared cleanup. Each test gets its own database
(`create_database`, a copy of `template0`), dropped after the test.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .servers import free_port

DATABASE_BACKENDS = ["sqlite", "postgresql"]
"""Parameters of the `dockwatch` server fixture for a test that runs on both databases:
`@pytest.mark.parametrize("dockwatch", DATABASE_BACKENDS, indirect=True)`."""

SUPERUSER = "dockwatch"
DEBIAN_PACKAGE = "postgresql"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed here (the reason says what to install)."""


def server_bindir() -> Path:
    """The newest installed PostgreSQL server's bin folder (holding `initdb` and `pg_ctl`)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresUnavailable(
            f"PostgreSQL server not installed (Debian package {DEBIAN_PACKAGE}; "
            "run `make test` as root)"
        )
    return found[-1].parent


def _run_as() -> str | None:
    """The unprivileged account the server runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root with no unprivileged account for PostgreSQL")


@dataclass
class PostgresCluster:
    """One running throwaway PostgreSQL cluster."""

    root: Path
    port: int
    bindir: Path
    user: str | None
    _databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of `database` in this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresCluster:
        """initdb + pg_ctl start in a new temporary folder; raises PostgresUnavailable."""
        bindir = server_bindir()
        user = _run_as()
        root = Path(tempfile.mkdtemp(prefix="dockwatch-pg-"))
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(root, free_port(), bindir, user)
        try:
            cluster._server(
                "initdb", "-D", str(cluster.data), "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={cluster.port} "
                f"-c unix_socket_directories={root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
            )
            cluster._server(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(cluster.data),
                "-l", str(root / "server.log"), "-o", options,
            )  # fmt: skip
        except BaseException:
            cluster._remove()
            raise
        atexit.register(cluster.stop)  # a session that dies early still stops its server
        return cluster

    def _server(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            command = [
                shutil.which("runuser") or "/usr/sbin/runuser",
                "-u",
                self.user,
                "--",
                *command,
            ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}\n{tail}")

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement.encode())  # names we generated, no user input

    def create_database(self) -> str:
        """A new empty database (from template0); returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        self._databases.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`, closing its leftover connections."""
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._databases:
            self._databases.remove(name)

    def stop(self) -> None:
        """Stop the server (immediately: the data is thrown away) and remove its folder."""
        if not self.root.exists():
            return
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._server("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
