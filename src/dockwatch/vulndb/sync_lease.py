"""Who holds the feed-sync lease, and whether that process is gone.

The lease (`VulnDb.acquire_sync_lease`) keeps two syncs from overlapping, the server's schedule
and `dockwatch db sync`, in any number of processes on any number of hosts. It expires
`LEASE_TTL` after its last renewal, so a crashed holder blocks nobody for good, but a server
killed in the middle of a sync (SIGKILL, the OOM killer, a power cut) used to stop every sync
for that long: the restarted server skipped its syncs and `db sync` refused to run. A holder
name says where it runs: its host, its process id and its process id namespace. A process on
the same host, in the same namespace, can see that the holder is gone and take the lease at
once. Elsewhere (another host, another container's namespace) nothing can be seen, and the
lease expires as before.
"""

from __future__ import annotations

import os
import socket

_UNKNOWN = "-"


def _pid_namespace() -> str:
    """The inode of this process's pid namespace (`pid:[4026531836]` -> `4026531836`), or
    `-` where /proc does not say."""
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return _UNKNOWN
    inode = link.partition("[")[2].rstrip("]")
    return inode if inode.isdigit() else _UNKNOWN


def holder_name(prefix: str = "") -> str:
    """This process's name as a lease holder: `host:pid:namespace`, after `prefix`."""
    return f"{prefix}{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}"


def left_by_a_dead_process(holder: str) -> bool:
    """Whether `holder` (a `holder_name`) names a process of this host and this pid namespace
    that no longer runs. False whenever that cannot be known: another host or namespace, a
    name of another form, a process that exists (a zombie, or another process that reused
    the id: the lease then expires as it would have)."""
    place, _, rest = holder.rpartition(":")
    where, _, pid = place.rpartition(":")
    host = where.rpartition(":")[2]  # after a prefix such as `db-sync:`
    namespace = rest
    if namespace == _UNKNOWN or not pid.isdigit() or int(pid) <= 0:
        return False
    if host != socket.gethostname() or namespace != _pid_namespace():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (PermissionError: another user's), or cannot be told
        return False
    return False
