"""Which process this is, as other processes can name it, and whether a process so named has
ended: what lets a process clean up after one that was killed (SIGKILL, the OOM killer), which
had no chance to clean up after itself.

A process id means something only on its host and in its pid namespace (each container has
its own), so a name carries all three, and `ended` answers True only for a process of this
host and this namespace that no longer exists. Anything it cannot see is taken to be alive.
"""

from __future__ import annotations

import os
import socket

UNKNOWN_NAMESPACE = "-"


def pid_namespace() -> str:
    """The inode of this process's pid namespace (`pid:[4026531836]` -> `4026531836`), or
    `UNKNOWN_NAMESPACE` where /proc does not say."""
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return UNKNOWN_NAMESPACE
    inode = link.partition("[")[2].rstrip("]")
    return inode if inode.isdigit() else UNKNOWN_NAMESPACE


def host() -> str:
    """This host's name."""
    return socket.gethostname()


def ended(host_name: str, pid: str, namespace: str) -> bool:
    """Whether process `pid` of `host_name`, in pid namespace `namespace`, has ended. False
    whenever that cannot be known: another host or namespace, an id that is not one, a
    process that exists (a zombie, another user's, or another process that reused the id)."""
    if namespace == UNKNOWN_NAMESPACE or not pid.isdigit() or int(pid) <= 0:
        return False
    if host_name != host() or namespace != pid_namespace():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (PermissionError: another user's), or cannot be told
        return False
    return False
