"""Output directories the commands write into: checked in one line before any work starts."""

from __future__ import annotations

import os
from pathlib import Path

from synthhuman.errors import UserError


def prepare_output_dir(path: str | Path, flag: str = "--out", subdir: str | None = None) -> Path:
    """Create `path` (and `path/subdir`) and prove it is writable, or raise a one-line UserError.

    Refuses an empty path (it would silently mean the current directory), an existing file,
    a path under a file and a read-only location. Returns the resolved directory.
    """
    if not str(path).strip():
        raise UserError(f"{flag} is empty: give a directory")
    out = Path(path).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {out} exists and is not a directory")
    target = out / subdir if subdir else out
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / f".synthhuman-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {flag} {out}: {exc.strerror or exc}") from None
    return out
