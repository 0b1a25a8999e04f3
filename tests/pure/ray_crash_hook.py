"""Ray worker setup hook for test_render_driver: the first time any worker renders index 4,
its whole process dies (os._exit), as a segfaulting Blender would. A marker file makes the
crash happen once, so the re-queued shard can succeed on a fresh actor."""

from __future__ import annotations

import os
from pathlib import Path


def install() -> None:
    from synthhuman.analytic import AnalyticRenderer

    marker = Path(os.environ["SYNTHHUMAN_TEST_CRASH_MARKER"])
    original = AnalyticRenderer.render_sample

    def render_sample(self, spec, export_mesh=False):
        if spec.index == 4 and not marker.exists():
            marker.write_text("crashed")
            os._exit(13)
        return original(self, spec, export_mesh)

    AnalyticRenderer.render_sample = render_sample
