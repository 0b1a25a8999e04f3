"""Ray worker setup hook for test_render_driver: every analytic sample takes 0.3 s, so a
signal sent once the first shard exists lands while later shards are in flight."""

from __future__ import annotations

import time


def install() -> None:
    from synthhuman.analytic import AnalyticRenderer

    original = AnalyticRenderer.render_sample

    def render_sample(self, spec, export_mesh=False):
        time.sleep(0.3)
        return original(self, spec, export_mesh)

    AnalyticRenderer.render_sample = render_sample
