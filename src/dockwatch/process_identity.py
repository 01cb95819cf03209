"""Which process this is, as other processes can name it, and whether a process so named has
ended: what lets a process clean up after one that was killed (SIGKILL, the OOM killer), which
had no chance to clean up after itself.

A process id means something only on its host and in its pid namespace (each container has
its own), so a name carries all three, and `ended` answers True only for a process of this
host and this namespace that no longer exists. Anything it cannot see is taken to be alive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

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


def folder_owner() -> str:
    """This process as a temporary folder's name holds it: `<host>.<pid namespace>.<pid>`, the
    host as 8 hex digits of its name's digest (the initial pid namespace has the same number
    on every host)."""
    return f"{_host_tag()}.{pid_namespace()}.{os.getpid()}"


def _host_tag() -> str:
    return hashlib.sha256(host().encode()).hexdigest()[:8]


def remove_abandoned_folders(root: Path, prefix: str) -> None:
    """Remove the folders in `root` named `<prefix><folder_owner()>-...` of processes of this
    host that have ended: this user's folders only, never through a link."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    uid, me, tag = os.getuid(), host(), _host_tag()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        owner = entry.name[len(prefix) :].split("-", 1)[0].split(".")
        if len(owner) != 3 or owner[0] != tag:
            continue
        _, namespace, pid = owner
        try:
            if (
                not entry.is_dir(follow_symlinks=False)
                or entry.stat(follow_symlinks=False).st_uid != uid
            ):
                continue
        except OSError:
            continue
        if ended(me, pid, namespace):
            shutil.rmtree(entry.path, ignore_errors=True)
