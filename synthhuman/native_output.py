"""Send what C libraries (Blender, Cycles, Warp, OpenEXR) print on fds 1 and 2 elsewhere.

Python's `contextlib.redirect_stdout` only swaps `sys.stdout`; native code writes to the file
descriptors themselves, so quiet runs were still full of `Fra:` lines and CUDA warnings.
This swaps the descriptors for the block. Everything the process writes there in the
meantime, Python included, goes to the target, so keep the blocks to library calls.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any


_TERMINAL_STDERR: list[int] = []  # copies of fd 2 saved by active redirections, innermost last


def write_to_terminal(message: str) -> None:
    """Write to the stderr the user sees, even inside `fds_redirected` (e.g. from a signal handler)."""
    fd = _TERMINAL_STDERR[0] if _TERMINAL_STDERR else 2
    with contextlib.suppress(OSError):
        os.write(fd, message.encode())


@contextlib.contextmanager
def fds_redirected(target: IO[Any], fds: tuple[int, ...] = (1, 2)) -> Iterator[bool]:
    """Within: `fds` write into `target` (an open file). Yields False when it could not redirect
    (no usable descriptors, as in some embedded interpreters)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(fd) for fd in fds]
    except (OSError, ValueError, AttributeError):
        yield False
        return
    for fd in fds:
        os.dup2(target.fileno(), fd)
    if 2 in fds:
        _TERMINAL_STDERR.append(saved[fds.index(2)])
    try:
        yield True
    finally:
        if 2 in fds:
            _TERMINAL_STDERR.pop()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, copy in zip(fds, saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
