"""Who holds the feed-sync lease, and whether that process is gone.

The lease (`VulnDb.acquire_sync_lease`) keeps two syncs from overlapping, the server's schedule
and `dockwatch db sync`, in any number of processes on any number of hosts. It expires
`LEASE_TTL` after its last renewal, so a crashed holder blocks nobody for good, but a server
killed in the middle of a sync (SIGKILL, the OOM killer, a power cut) used to stop every sync
for that long: the restarted server skipped its syncs and `db sync` refused to run. A holder
name says where it runs: its host, its process id and its process id namespace. A process on
the same host, in the same namespace, can see that the holder is gone and take the lease at
once (`process_identity.ended`). Elsewhere (another host, another container's namespace)
nothing can be seen, and the lease expires as before.
"""

from __future__ import annotations

import os

from dockwatch.process_identity import ended, host, pid_namespace


def holder_name(prefix: str = "") -> str:
    """This process's name as a lease holder: `host:pid:namespace`, after `prefix`."""
    return f"{prefix}{host()}:{os.getpid()}:{pid_namespace()}"


def left_by_a_dead_process(holder: str) -> bool:
    """Whether `holder` (a `holder_name`) names a process of this host and this pid namespace
    that no longer runs; False for a name of any other form."""
    place, _, namespace = holder.rpartition(":")
    where, _, pid = place.rpartition(":")
    return ended(where.rpartition(":")[2], pid, namespace)  # after a prefix such as `db-sync:`
