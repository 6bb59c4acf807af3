"""Whether another process has a SQLite database open: if none has, no writer can be
waiting for its lock, and the import's merge need not pause for one
(:class:`storage.registry.merge_sqlite.LockPacer`).

SQLite in WAL mode keeps a shared POSIX lock on one byte of the ``-shm`` file (the
"DMS" byte, offset 128: ``UNIX_SHM_DMS`` in SQLite's ``os_unix.c``) for as long as a
connection has the database open. ``F_GETLK`` asks the kernel whether a write lock on
that byte would conflict with a lock held by *another process* (locks of this process
never conflict with its own requests), which is exactly the question. Only on Linux,
where ``struct flock``'s layout is known here; elsewhere, and whenever the answer is
not certain, another process is assumed, and the merge pauses as before.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys

#: The byte SQLite's unix VFS locks (shared) while a connection has the WAL index open.
SHM_DMS_OFFSET = 128
# struct flock on Linux (x86-64, arm64): short l_type, l_whence; off_t l_start, l_len;
# pid_t l_pid; padded to 32 bytes.
_FLOCK = struct.Struct("hhqqi4x")


class OtherProcesses:
    """``OtherProcesses(path)()``: whether a process other than this one has the SQLite
    database at ``path`` open (``True`` when that cannot be told)."""

    def __init__(self, path: str) -> None:
        self._shm = f"{path}-shm"

    def __call__(self) -> bool:
        if sys.platform != "linux":
            return True
        try:
            fd = os.open(self._shm, os.O_RDONLY)
        except FileNotFoundError:
            return False  # no WAL index: nobody has the database open in WAL mode
        except OSError:
            return True
        try:
            request = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, SHM_DMS_OFFSET, 1, 0)
            answer = fcntl.fcntl(fd, fcntl.F_GETLK, request)
        except OSError:
            return True
        finally:
            os.close(fd)
        lock_type = _FLOCK.unpack(answer)[0]
        return bool(lock_type != fcntl.F_UNLCK)
