"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""

import errno


class UserError(Exception):
    """Bad input from the user (flag, path, config key, asset, shard): say what, not where.

    The CLI prints ``synthhuman: error: <message>`` and exits with status 2; any other
    exception is a bug in synthhuman and keeps its traceback.
    """


class RendererUnavailable(UserError):
    """The renderer cannot be built here (no such GPU, bpy missing): fatal for the whole run,
    unlike a failure of one sample, which is retried and recorded."""


class OutOfSpace(UserError):
    """The output file system is full: fatal for the run (every retry would fail the same way),
    raised once the temp file that could not be written has been removed."""


def is_out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def out_of_space(path: object) -> OutOfSpace:
    return OutOfSpace(f"no space left on the device writing {path}: free space and re-run the same "
                      "command (finished shards are kept)")
