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
