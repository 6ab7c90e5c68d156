"""The frame every chart shares: header, footer marks, the context strip, or the message of a degenerate map."""

from __future__ import annotations

from matplotlib.figure import Figure

from bot.model.types import LiqMap
from bot.render.checks import degenerate_reason, validate
from bot.render.context_strip import add_context_strip
from bot.render.theme import add_header, add_marks, add_message, new_figure


def start_chart(m: LiqMap, chart_name: str, kind: str) -> tuple[Figure, bool]:
    """A new figure with the header and marks every chart has, and whether it is complete already: a degenerate
    map (empty, flat) gets its explaining message instead of a chart."""
    validate(m)
    fig = new_figure()
    add_header(fig, m, chart_name)
    add_marks(fig, m)
    add_context_strip(fig, m.context)
    reason = degenerate_reason(m, kind)
    if reason is not None:
        add_message(fig, *reason)
        return fig, True
    return fig, False
