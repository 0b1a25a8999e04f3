"""Ctrl-C and SIGTERM stop a render cleanly, even while Blender is rendering in this process.

Python raises KeyboardInterrupt wherever the main thread happens to be. During a Cycles
render that is inside Cycles' own Python render callback, and Blender catches and prints
exceptions raised there and carries on: the render returns (possibly cut short) and the
run continues, so 7 of 8 Ctrl-Cs were lost with `--workers 0`. SIGTERM (what a scheduler
sends before killing a job) had no handler at all.

`stop_on_signals()` makes SIGINT and SIGTERM raise KeyboardInterrupt as usual, except
inside `deferred_stop()` blocks (one sample's render), where they only set a flag; the
block's end raises it. So a stop lands between samples, never inside Blender, and the CLI
turns it into exit 130 with finished shards kept.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from synthhuman.native_output import write_to_terminal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    installed = False
    deferring = 0
    pending: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.deferring:
        if _State.pending is None:
            name = signal.Signals(signum).name
            write_to_terminal(f"\nsynthhuman: {name}: stopping after the current sample\n")
        _State.pending = signum
        return
    raise KeyboardInterrupt


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise KeyboardInterrupt (deferred inside `deferred_stop`).

    A no-op outside the main thread (Python only delivers signals there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handler) for sig in STOP_SIGNALS}
    _State.installed, _State.pending = True, None
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _State.installed, _State.pending = False, None


@contextmanager
def deferred_stop() -> Iterator[None]:
    """Within: a stop signal is remembered, not raised; leaving the block raises it.

    Only active under `stop_on_signals` (in a Ray actor, Ray owns the signals).
    """
    if not _State.installed:
        yield
        return
    if _State.pending is not None:  # asked to stop before this block began: do not start it
        raise KeyboardInterrupt
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if not _State.deferring and _State.pending is not None:
        raise KeyboardInterrupt
