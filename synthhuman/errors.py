"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""


class UserError(Exception):
    """Bad input from the user (flag, path, config key, asset, shard): say what, not where.

    The CLI prints ``synthhuman: error: <message>`` and exits with status 2; any other
    exception is a bug in synthhuman and keeps its traceback.
    """


class RendererUnavailable(UserError):
    """The renderer cannot be built here (no such GPU, bpy missing): fatal for the whole run,
    unlike a failure of one sample, which is retried and recorded."""
