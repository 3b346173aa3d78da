"""A chart with its text alternative (WCAG 2.2 AA, 1.1.1 and 1.4.1).

Every chart is drawn the same way: inside one keyed container, the sentence that states its
finding (from `core.metrics.findings`) as visible text right before the figure, the figure with
a plotly title that names what it shows, and right after it a table of exactly the plotted
numbers, visible by default. A screen reader reads the sentence and the table; nobody has to
read colours or hover to get the figure's message. No text is injected into a script.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.text import escape_markdown

# Plotly validates a figure's whole layout again on every update_layout, add_shape, add_hline
# or update_yaxes call (a bar chart built in four calls took 5.6 ms, in one 0.9 ms, on every
# page run), and a trace object once alone and again in its figure (six lines: 8.5 ms as
# objects, 3.0 ms as dicts). The portal's figures are built in one go, from dicts.


# The margins of a titled chart: room for its title above, the plot to the edges otherwise.
TITLED_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def level_line(y: float, *, colour: str, dash: str, text: str | None = None,
               position: str = "top right") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A horizontal line across the plot at `y` and its label, as a shape and annotations
    for a figure's layout (what `add_hline` draws, without its revalidation)."""
    line = {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y,
            "y1": y, "line": {"color": colour, "dash": dash}}
    if text is None:
        return line, []
    vertical, horizontal = position.split()
    return line, [{"text": text, "xref": "x domain", "x": 0 if horizontal == "left" else 1,
                   "xanchor": horizontal, "yref": "y", "y": y, "showarrow": False,
                   "yanchor": "bottom" if vertical == "top" else "top"}]


def chart_with_text(finding: str, figure: go.Figure, table: pd.DataFrame | None, *, key: str,
                    column_config: dict[str, Any] | None = None, **chart: Any) -> Any:
    """The finding, the chart and its data table, in a container keyed `<key>_alt`; returns
    what st.plotly_chart returns (a selection when `on_select` is given)."""
    with st.container(key=f"{key}_alt"):
        st.markdown(escape_markdown(finding))
        result = st.plotly_chart(figure, key=key, **chart)
        if table is not None:
            st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_data",
                         column_config=column_config)
    return result
