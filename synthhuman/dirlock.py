"""One render per output DIR at a time: `DIR/.lock`, held with flock, naming its holder.

Two renders into one DIR corrupt each other (resume removes the other run's temp files;
both write the manifest). The lock is an flock on `DIR/.lock`, so the kernel releases it when
the holder dies, however it dies: a lock file left by a killed run is stale by construction
and the next run simply takes it. The file's text (host, pid, start time) is only for the
message naming who holds it. A DIR on a file system without working flock (some network
mounts) fails with a one-line error rather than running unlocked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from synthhuman.errors import UserError

LOCK_NAME = ".lock"


class DirLock:
    """`with DirLock(out_dir):` holds DIR's lock for the block, or raises a one-line UserError."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> DirLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise UserError(f"{self.path.parent} is in use by another render ({holder}); "
                                "wait for it, or stop it, then re-run") from None
            except OSError as exc:
                os.close(fd)
                raise UserError(f"cannot lock {self.path}: {exc.strerror or exc} "
                                "(the output DIR needs a file system with flock)") from None
            # The holder we waited on may have removed the file after we opened it: then our lock
            # is on a deleted inode that nobody else sees. Retry on the file now at the path.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # unlink while still holding it: see the inode check
        finally:
            os.close(self._fd)  # releases the flock
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {data['pid']} on {data['host']} since {data['since']}"
    except (ValueError, KeyError, OSError):
        return "holder unknown"
