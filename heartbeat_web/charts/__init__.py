"""Every chart the web surface draws, server-side as inline SVG (or HTML tables), no JS library.

`base` holds the shared pieces (ranges, ticks, scales, labels, SVG fragments); `metric` the tile sparkline
and the metric page's history; `cuts` and `tables` the audit cut kinds.
"""

from heartbeat_web.charts.base import AsOf
from heartbeat_web.charts.cuts import RENDERERS, render_cut
from heartbeat_web.charts.metric import history_chart, sparkline

__all__ = ["RENDERERS", "AsOf", "history_chart", "render_cut", "sparkline"]
